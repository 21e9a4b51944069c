"""Write the six synthetic datasets in their real release formats, plus ``MANIFEST.json``.

``generate(out_root, profile, seed)`` composes each dataset from one shared world (concept space,
task book, feature projections): which videos perform which tasks or activities, in which split,
described in which text style. Each dataset is built in a temporary folder next to its final place
and moved there whole. The same seed gives byte-identical files.

    python -m taco.data.synthetic.generate --out data/synthetic --profile default --seed 0
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from taco.data.synthetic import vocabulary as vocab
from taco.data.synthetic import writers
from taco.data.synthetic.profiles import Profile, get_profile
from taco.data.synthetic.world import (
    ACTIVITIES, FEATURE_TYPES, ConceptSpace, LatentVideo, Performance, Task, perform_activity, perform_steps,
    task_book, vary_task,
)
from taco.features.store import feature_path, write_features

DATASETS = ("youcook2", "msrvtt", "activitynet", "howto100m", "crosstask", "coin")
MANIFEST_FILE = "MANIFEST.json"
MSRVTT_CAPTIONS_PER_VIDEO = 20
MSRVTT_SPLIT_FRACTIONS = (0.6513, 0.0497)  # official train / validate shares (video0-6512, 6513-7009)
HOWTO_FRACTIONS = {"cooking": 0.6, "other": 0.28, "open": 0.12}  # recipes, other procedures, hobbies
# HowTo100M categories of the open-domain (hobby) videos, by activity; others are generic hobbies
HOWTO_OPEN_CATEGORIES = {
    "music": ("Arts and Entertainment", "Music"), "singing": ("Arts and Entertainment", "Music"),
    "dancing": ("Arts and Entertainment", "Dance"), "animals": ("Pets and Animals", "Pets"),
    "sports": ("Sports and Fitness", "Team Sports"), "riding": ("Sports and Fitness", "Outdoor Recreation"),
    "cooking": ("Food and Entertaining", "Recipes"), "beauty": ("Personal Care and Style", "Makeup"),
}
_YOUTUBE_ALPHABET = string.ascii_letters + string.digits + "-_"


class _Identities:
    """Unique YouTube-like video ids and per-video noise seeds across the whole world."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng([seed, 5])
        self._used: set[str] = set()
        self._noise_seeds = 0

    def video_id(self) -> str:
        while True:
            letters = self._rng.choice(len(_YOUTUBE_ALPHABET), size=11)
            candidate = "".join(_YOUTUBE_ALPHABET[i] for i in letters)
            if candidate[0] != "-" and candidate not in self._used:
                self._used.add(candidate)
                return candidate

    def noise_seed(self) -> int:
        self._noise_seeds += 1
        return self._noise_seeds


@dataclass
class _Context:
    """What every dataset builder shares."""

    space: ConceptSpace
    profile: Profile
    identities: _Identities
    cooking: list[Task]
    other: list[Task]
    progress: bool

    def bar(self, total: int, name: str) -> tqdm:
        return tqdm(total=total, desc=name, unit="video", disable=not self.progress, leave=False)

    def write_features(self, root: Path, video: LatentVideo) -> None:
        for name in FEATURE_TYPES:
            write_features(feature_path(root, name, video.video_id), self.space.render(video, name))


def _pick_positions(rng: np.random.Generator, total: int, chosen: int) -> set[int]:
    return set(rng.choice(total, size=min(chosen, total), replace=False).tolist())


def _spread(tasks: list[Task], count: int, offset: int = 0) -> list[Task]:
    """``count`` tasks evenly spread over the list (so different procedure families are chosen)."""
    return [tasks[(offset + i * len(tasks) // count) % len(tasks)] for i in range(count)] if count else []


# --- YouCook2 -------------------------------------------------------------------------------------


def build_youcook2(root: Path, ctx: _Context, rng: np.random.Generator) -> dict:
    """Recipes with several videos each; one imperative caption per annotated step."""
    p = ctx.profile
    recipes = ctx.cooking[:p.youcook2_recipes]
    videos = []
    with ctx.bar(len(recipes) * p.youcook2_videos_per_recipe, "youcook2") as bar:
        for task in recipes:
            validation = _pick_positions(rng, p.youcook2_videos_per_recipe, p.youcook2_validation_per_recipe)
            for position in range(p.youcook2_videos_per_recipe):
                perf = perform_steps(ctx.identities.video_id(), ctx.identities.noise_seed(), "cooking",
                                     vary_task(task, rng, 0.25), rng, keep_probability=0.85,
                                     step_seconds=(5.0, 16.0), gap_seconds=(1.0, 8.0),
                                     margin_seconds=(3.0, 15.0), ambient=("person",))
                segments = tuple((*_integer_segment(span, perf.video.duration, rng), vocab.instruction(event, rng))
                                 for event, span in zip(perf.events, perf.spans))
                videos.append(writers.YouCook2Video(
                    perf.video.video_id, perf.video.duration, str(101 + task.number),
                    "validation" if position in validation else "training", segments))
                ctx.write_features(root, perf.video)
                bar.update()
    writers.write_youcook2(root, videos)
    return {"recipes": len(recipes), "videos": len(videos),
            "training_clips": sum(len(v.segments) for v in videos if v.subset == "training"),
            "validation_clips": sum(len(v.segments) for v in videos if v.subset == "validation")}


def _integer_segment(span: tuple[float, float], duration: float, rng: np.random.Generator) -> tuple[int, int]:
    """An annotator's whole-second bounds of a step: its true span give or take about a second."""
    start = max(0, int(np.floor(span[0] + rng.normal(0, 0.7))))
    end = min(int(np.floor(duration)), int(round(span[1] + rng.normal(0, 0.7))))
    return start, max(end, start + 1)


# --- MSR-VTT --------------------------------------------------------------------------------------


def build_msrvtt(root: Path, ctx: _Context, rng: np.random.Generator) -> dict:
    """Short open-domain clips (video0..videoN), 20 paraphrases each mentioning different parts."""
    p = ctx.profile
    n_train = round(MSRVTT_SPLIT_FRACTIONS[0] * p.msrvtt_videos)
    n_validate = round(MSRVTT_SPLIT_FRACTIONS[1] * p.msrvtt_videos)
    weights = vocab.zipf_weights(len(ACTIVITIES), 0.5)
    videos = []
    with ctx.bar(p.msrvtt_videos, "msrvtt") as bar:
        for number in range(p.msrvtt_videos):
            activity = ACTIVITIES[int(rng.choice(len(ACTIVITIES), p=weights))]
            perf = perform_activity(f"video{number}", ctx.identities.noise_seed(), activity, rng,
                                    events=int(rng.choice([1, 2, 3], p=[0.55, 0.33, 0.12])),
                                    duration=float(rng.uniform(10.0, 30.0)))
            start_time = round(float(rng.uniform(0.0, 300.0)), 2)
            split = "train" if number < n_train else "validate" if number < n_train + n_validate else "test"
            captions = tuple(_msrvtt_caption(perf, rng) for _ in range(MSRVTT_CAPTIONS_PER_VIDEO))
            videos.append(writers.MsrvttVideo(number, activity.category, ctx.identities.video_id(), start_time,
                                              round(start_time + perf.video.duration, 2), split, captions))
            ctx.write_features(root, perf.video)
            bar.update()
    test_numbers = [v.number for v in videos if v.split == "test"]
    if len(test_numbers) < p.msrvtt_test_videos:
        raise ValueError(f"profile '{p.name}': {p.msrvtt_test_videos} JSFusion test videos requested but the "
                         f"official test split has only {len(test_numbers)}")
    jsfusion = sorted(rng.choice(test_numbers, size=p.msrvtt_test_videos, replace=False).tolist())
    jsfusion_rows = [(videos[n].video_id, videos[n].captions[int(rng.integers(MSRVTT_CAPTIONS_PER_VIDEO))])
                     for n in jsfusion]
    test_set = set(jsfusion)
    train_9k = [v.video_id for v in videos if v.number not in test_set]
    train_7k = [v.video_id for v in videos if v.split != "test"]
    writers.write_msrvtt(root, videos, train_9k, train_7k, jsfusion_rows)
    return {"videos": len(videos), "captions": len(videos) * MSRVTT_CAPTIONS_PER_VIDEO,
            "train_9k_videos": len(train_9k), "train_7k_videos": len(train_7k),
            "jsfusion_test_videos": len(jsfusion_rows)}


def _msrvtt_caption(perf: Performance, rng: np.random.Generator) -> str:
    """One paraphrase: mostly about the first event, sometimes joining a later event's action."""
    events = perf.events
    index = 0 if len(events) == 1 or rng.random() < 0.6 else int(rng.integers(len(events)))
    event = events[index]
    others = [e.action for e in events if e.action != event.action]
    if others and rng.random() < 0.3:
        event = replace(event, second_action=others[int(rng.integers(len(others)))])
    return vocab.description(event, rng)


# --- ActivityNet Captions ---------------------------------------------------------------------------


def build_activitynet(root: Path, ctx: _Context, rng: np.random.Generator) -> dict:
    """Long open-domain videos with several events each, described by a paragraph (and, for
    validation, a second independent annotation as in val_2)."""
    p = ctx.profile
    weights = vocab.zipf_weights(len(ACTIVITIES), 0.3)
    train, val_1, val_2 = [], [], []
    with ctx.bar(p.activitynet_train_videos + p.activitynet_val_videos, "activitynet") as bar:
        for index in range(p.activitynet_train_videos + p.activitynet_val_videos):
            activity = ACTIVITIES[int(rng.choice(len(ACTIVITIES), p=weights))]
            perf = perform_activity(ctx.identities.video_id(), ctx.identities.noise_seed(), activity, rng,
                                    events=int(rng.choice([2, 3, 4, 5], p=[0.15, 0.4, 0.3, 0.15])),
                                    duration=float(rng.uniform(30.0, 100.0)))
            if index < p.activitynet_train_videos:
                train.append(_paragraph(perf, rng))
            else:
                val_1.append(_paragraph(perf, rng))
                val_2.append(_paragraph(perf, rng))
            ctx.write_features(root, perf.video)
            bar.update()
    writers.write_activitynet(root, train, val_1, val_2)
    return {"train_videos": len(train), "val_videos": len(val_1),
            "train_events": sum(len(v.sentences) for v in train)}


def _paragraph(perf: Performance, rng: np.random.Generator) -> writers.ActivityNetVideo:
    """One annotator's events: loosely placed timestamps and a narrative sentence per event."""
    duration = perf.video.duration
    timestamps = []
    for start, end in perf.spans:
        s = float(np.clip(start + rng.normal(0, 1.5), 0.0, duration - 1.0))
        e = float(np.clip(end + rng.normal(0, 1.5), s + 1.0, duration))
        timestamps.append((round(s, 2), round(e, 2)))
    pronoun = vocab.pronoun_for(perf.events[0].agent, rng)
    sentences = tuple(vocab.narrative(event, rng, i == 0, pronoun) for i, event in enumerate(perf.events))
    return writers.ActivityNetVideo(f"v_{perf.video.video_id}", duration, tuple(timestamps), sentences)


# --- HowTo100M ------------------------------------------------------------------------------------


def build_howto100m(root: Path, ctx: _Context, rng: np.random.Generator) -> dict:
    """Instructional videos of every task of the book (recipes and other procedures) and a few
    open-domain hobby videos (playing guitar, training a dog), all with noisy narration."""
    p = ctx.profile
    ranks: dict[int, int] = {}
    videos = []
    kinds = list(HOWTO_FRACTIONS)
    with ctx.bar(p.howto100m_videos, "howto100m") as bar:
        for _ in range(p.howto100m_videos):
            kind = kinds[int(rng.choice(len(kinds), p=list(HOWTO_FRACTIONS.values())))]
            if kind == "open":
                index = int(rng.integers(len(ACTIVITIES)))
                activity = ACTIVITIES[index]
                perf = perform_activity(ctx.identities.video_id(), ctx.identities.noise_seed(), activity, rng,
                                        events=int(rng.integers(3, 6)), duration=float(rng.uniform(40.0, 120.0)))
                task_id = 90000 + index
                categories = HOWTO_OPEN_CATEGORIES.get(activity.name, ("Hobbies and Crafts", "Hobbies"))
            else:
                pool = ctx.cooking if kind == "cooking" else ctx.other
                task = pool[int(rng.integers(len(pool)))]
                perf = perform_steps(ctx.identities.video_id(), ctx.identities.noise_seed(), task.domain,
                                     vary_task(task, rng, 0.3), rng, keep_probability=0.8,
                                     step_seconds=(4.0, 14.0), gap_seconds=(2.0, 8.0), margin_seconds=(3.0, 15.0),
                                     ambient=("person",))
                task_id, categories = task_id_of(task), task.categories
            ranks[task_id] = ranks.get(task_id, 0) + 1
            videos.append(writers.HowToVideo(perf.video.video_id, *categories, ranks[task_id], task_id,
                                             perf.video.duration, _narration(perf, rng)))
            ctx.write_features(root, perf.video)
            bar.update()
    writers.write_howto100m(root, videos)
    return {"videos": len(videos), "tasks": len(ranks), "caption_segments": sum(len(v.segments) for v in videos)}


def task_id_of(task: Task) -> int:
    """A wikiHow-style task id for a task of the book."""
    return 20000 + 37 * task.number


def _narration(perf: Performance, rng: np.random.Generator) -> tuple[tuple[float, float, str], ...]:
    """ASR fragments: each step is spoken (or not) a few seconds off its true time, with fillers,
    partial mentions, things named but not shown, and chatter unrelated to the task."""
    duration = perf.video.duration
    utterances: list[tuple[float, str]] = []
    if rng.random() < 0.7:
        utterances.append((float(rng.uniform(0.0, 3.0)), vocab.CHATTER[int(rng.integers(len(vocab.CHATTER)))]))
    for event, (start, end) in zip(perf.events, perf.spans):
        if rng.random() < 0.15:
            continue
        distractor = None
        if event.objects and rng.random() < 0.1:
            role = vocab.VOCABULARY[event.objects[0]].role
            options = [c.key for c in vocab.concepts_of(kind=vocab.OBJECT, role=role) if c.key not in event.objects]
            distractor = options[int(rng.integers(len(options)))]
        utterances.append((max(0.0, start + float(rng.normal(0, 2.5))), vocab.speech(event, rng, distractor)))
        if rng.random() < 0.1:
            utterances.append((end, vocab.CHATTER[int(rng.integers(len(vocab.CHATTER)))]))
    if rng.random() < 0.6:
        utterances.append((duration - 6.0, vocab.CHATTER[int(rng.integers(len(vocab.CHATTER)))]))
    return _asr_fragments(sorted(utterances), duration, rng)


def _asr_fragments(utterances: list[tuple[float, str]], duration: float,
                   rng: np.random.Generator) -> tuple[tuple[float, float, str], ...]:
    """Cut utterances into consecutive fragments of 2-7 words (0.3-0.5 s a word); a fragment of stop
    words only joins its neighbour in the same utterance; fragments past the video's end are dropped."""
    fragments: list[tuple[float, float, str]] = []
    cursor = 0.0
    for when, text in utterances:
        words = text.split()
        chunks: list[list[str]] = []
        while words:
            size = int(rng.integers(2, 8))
            chunk, words = words[:size], words[size:]
            if chunks and (not writers.without_stop_words(" ".join(chunk))
                           or not writers.without_stop_words(" ".join(chunks[-1]))):
                chunks[-1] += chunk
            else:
                chunks.append(chunk)
        cursor = max(cursor, when)
        for chunk in chunks:
            if cursor + 0.5 > duration or not writers.without_stop_words(" ".join(chunk)):
                break
            end = min(cursor + len(chunk) * float(rng.uniform(0.3, 0.5)), duration)
            fragments.append((round(cursor, 2), round(end, 2), " ".join(chunk)))
            cursor = end + float(rng.uniform(0.0, 0.3))
    return tuple(fragments)


# --- CrossTask ------------------------------------------------------------------------------------


def build_crosstask(root: Path, ctx: _Context, rng: np.random.Generator) -> dict:
    """Primary tasks with ordered step descriptions ("pour milk"); per-video step annotations."""
    p = ctx.profile
    start = p.youcook2_recipes
    tasks = ctx.cooking[start:start + p.crosstask_cooking_tasks] + _spread(ctx.other, p.crosstask_other_tasks)
    records, videos = [], []
    with ctx.bar(len(tasks) * p.crosstask_videos_per_task, "crosstask") as bar:
        for task in tasks:
            labels = list(dict.fromkeys(vocab.step_label(event) for event in task.steps))
            step_number = [labels.index(vocab.step_label(event)) + 1 for event in task.steps]
            title = task.title
            records.append(writers.CrossTaskTask(task_id_of(task), title,
                                                 "http://www.wikihow.com/" + title.replace(" ", "-"), tuple(labels)))
            validation = _pick_positions(rng, p.crosstask_videos_per_task, p.crosstask_validation_per_task)
            for position in range(p.crosstask_videos_per_task):
                perf = perform_steps(ctx.identities.video_id(), ctx.identities.noise_seed(), task.domain,
                                     vary_task(task, rng, 0.25), rng, keep_probability=0.8,
                                     step_seconds=(4.0, 12.0), gap_seconds=(2.0, 8.0),
                                     margin_seconds=(3.0, 15.0), ambient=("person",))
                annotations = tuple((step_number[i], *span) for i, span in zip(perf.step_indices, perf.spans))
                videos.append(writers.CrossTaskVideo(task_id_of(task), perf.video.video_id, perf.video.duration,
                                                     position in validation, annotations))
                ctx.write_features(root, perf.video)
                bar.update()
    writers.write_crosstask(root, records, videos)
    return {"tasks": len(records), "videos": len(videos), "validation_videos": sum(v.validation for v in videos),
            "steps": sum(len(t.steps) for t in records)}


# --- COIN -----------------------------------------------------------------------------------------


def build_coin(root: Path, ctx: _Context, rng: np.random.Generator) -> dict:
    """Tasks with step labels ("put the steak on the grill"), string step ids unique over all tasks."""
    p = ctx.profile
    start = p.youcook2_recipes + p.crosstask_cooking_tasks
    tasks = ctx.cooking[start:start + p.coin_cooking_tasks] + _spread(ctx.other, p.coin_other_tasks, offset=1)
    videos = []
    next_step_id = 1
    with ctx.bar(len(tasks) * p.coin_videos_per_task, "coin") as bar:
        for recipe_type, task in enumerate(tasks):
            labels = list(dict.fromkeys(vocab.segment_label(event) for event in task.steps))
            step_ids = {label: str(next_step_id + i) for i, label in enumerate(labels)}
            next_step_id += len(labels)
            class_name = "".join(word[:1].upper() + word[1:] for word in task.title.split())
            testing = _pick_positions(rng, p.coin_videos_per_task, p.coin_test_per_task)
            for position in range(p.coin_videos_per_task):
                perf = perform_steps(ctx.identities.video_id(), ctx.identities.noise_seed(), task.domain,
                                     vary_task(task, rng, 0.25), rng, keep_probability=0.85,
                                     step_seconds=(3.0, 12.0), gap_seconds=(1.0, 10.0),
                                     margin_seconds=(2.0, 12.0), ambient=("person",))
                annotation = []
                for index, (s, e) in zip(perf.step_indices, perf.spans):
                    label = vocab.segment_label(task.steps[index])
                    annotation.append((step_ids[label], round(s, 1), round(e, 1), label))
                videos.append(writers.CoinVideo(perf.video.video_id, perf.video.duration, class_name, recipe_type,
                                                "testing" if position in testing else "training", tuple(annotation)))
                ctx.write_features(root, perf.video)
                bar.update()
    writers.write_coin(root, videos)
    return {"tasks": len(tasks), "videos": len(videos), "test_videos": sum(v.subset == "testing" for v in videos),
            "step_classes": next_step_id - 1}


BUILDERS: dict[str, Callable[[Path, _Context, np.random.Generator], dict]] = {
    "youcook2": build_youcook2, "msrvtt": build_msrvtt, "activitynet": build_activitynet,
    "howto100m": build_howto100m, "crosstask": build_crosstask, "coin": build_coin,
}


def _tree_size(root: Path) -> tuple[int, int]:
    files = [path for path in root.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def _refuse_foreign_data(out_root: Path) -> None:
    """Dataset folders are replaced whole: only do that to an earlier output of this generator."""
    existing = [out_root / name for name in DATASETS if (out_root / name).exists()]
    manifest = out_root / MANIFEST_FILE
    if existing and not (manifest.is_file() and '"generator": "taco.data.synthetic"' in manifest.read_text()):
        raise FileExistsError(f"'{existing[0]}' exists but '{out_root}' holds no synthetic {MANIFEST_FILE}: "
                              "refusing to replace data this generator did not write")


def generate(out_root: Path, profile: str = "default", seed: int = 0, progress: bool = True) -> dict:
    """Write all six datasets under ``out_root/<dataset>/`` and ``out_root/MANIFEST.json``; returns
    the manifest (counts, files and bytes per dataset, feature types, seed, profile)."""
    sizes = get_profile(profile)
    out_root = Path(out_root)
    _refuse_foreign_data(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    book = task_book(seed, sizes.cooking_tasks)
    ctx = _Context(space=ConceptSpace(seed), profile=sizes, identities=_Identities(seed),
                   cooking=[t for t in book if t.domain == "cooking"], other=[t for t in book if t.domain != "cooking"],
                   progress=progress)
    manifest: dict = {
        "generator": "taco.data.synthetic", "profile": profile, "seed": seed,
        "feature_types": {name: {"rate": ft.rate, "width": ft.width} for name, ft in FEATURE_TYPES.items()},
        "datasets": {},
    }
    for index, name in enumerate(DATASETS):
        final = out_root / name
        building = out_root / f".{name}.{uuid.uuid4().hex}.partial"
        try:
            # one BLAS thread: tiny matrices, no contention, the same bytes on every machine
            with threadpool_limits(limits=1, user_api="blas"):
                counts = BUILDERS[name](building, ctx, np.random.default_rng([seed, 10 + index]))
            if final.exists():
                shutil.rmtree(final)
            os.replace(building, final)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        files, size = _tree_size(final)
        manifest["datasets"][name] = {**counts, "files": files, "bytes": size}
    manifest["total_bytes"] = sum(d["bytes"] for d in manifest["datasets"].values())
    writers.write_text(out_root / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return manifest


PROG = "python -m taco.data.synthetic.generate"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from taco.cli import HelpFormatter
    from taco.data.synthetic.profiles import PROFILES

    parser = argparse.ArgumentParser(prog=prog, formatter_class=HelpFormatter,
                                     description="Write the synthetic benchmark in the real release formats.")
    parser.add_argument("--out", required=True, type=Path, help="output folder (one sub-folder per dataset)")
    parser.add_argument("--profile", default="default", metavar="{" + ",".join(PROFILES) + "}",
                        help="size profile of the synthetic world (taco/data/synthetic/profiles.py)")
    parser.add_argument("--seed", default=0, type=int, help="seed of the world, its identities and features")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """The command line; an unknown ``--profile`` is a one-line error naming the known ones (exit 2)."""
    args = build_parser(prog).parse_args(argv)
    try:
        get_profile(args.profile)
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    manifest = generate(args.out, args.profile, args.seed, progress=not args.no_progress)
    print(json.dumps({name: d["bytes"] for name, d in manifest["datasets"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
