"""Fabricate tiny dataset releases laid out exactly as the real ones (docs/data_formats.md).

Each ``write_*`` writes the release's files under ``root`` with their real names, keys, headers
(or lack of one) and value types, and returns what a correct loader must find: per split, the
``taco.data.records.count`` keys (videos, clips = distinct segments, captions). The expected
numbers follow from how the files are built here, not from running any loader.
"""
from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np

Counts = dict[str, dict[str, int]]


def _counts(videos: int, clips: int, captions: int) -> dict[str, int]:
    return {"videos": videos, "clips": clips, "captions": captions}


def _write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")


def _write_csv(path: Path, rows: list[list], header: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)


def youtube_id(prefix: str, index: int) -> str:
    """An 11-character id in YouTube's alphabet (letters, digits, '-', '_'), like the releases use."""
    return f"{prefix[:4]:_<4}-{index:04d}x_"


# --------------------------------------------------------------------------------------- YouCook2
def write_youcook2(root: Path, train_videos: int = 3, test_videos: int = 2, clips_per_video: int = 3) -> Counts:
    """``youcookii_annotations_trainval.json``; subsets "training" (train) and "validation" (test)."""
    database = {}
    for index in range(train_videos + test_videos):
        subset = "training" if index < train_videos else "validation"
        annotations = [
            {"id": k, "segment": [10 * k + index, 10 * k + index + 6], "sentence": f"step {k} of recipe {index}"}
            for k in range(clips_per_video)
        ]
        database[youtube_id("yc", index)] = {
            "annotations": annotations,
            "duration": 10.0 * clips_per_video + index + 3.5,
            "recipe_type": "212",
            "subset": subset,
            "video_url": f"https://www.youtube.com/watch?v={youtube_id('yc', index)}",
        }
    _write_json(Path(root) / "youcookii_annotations_trainval.json", {"database": database})
    return {
        "train": _counts(train_videos, train_videos * clips_per_video, train_videos * clips_per_video),
        "test": _counts(test_videos, test_videos * clips_per_video, test_videos * clips_per_video),
    }


def write_youcook2_univl(root: Path, train_videos: int = 2, test_videos: int = 1, clips_per_video: int = 2,
                         feature_frames: int = 5, feature_dim: int = 1024) -> Counts:
    """UniVL's release: ``youcookii_data.pickle`` (per video: object arrays start/end/text/transcript),
    ``youcookii_videos_features.pickle`` ({feature_file: (T, D) float32}) and the csv files
    ``youcookii_train.csv`` / ``youcookii_val.csv`` (``video_id,feature_file``); val videos are the test split."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    data, features, rows = {}, {}, {"train": [], "val": []}
    for index in range(train_videos + test_videos):
        video_id = youtube_id("uv", index)
        data[video_id] = {
            "start": np.array([4 * k for k in range(clips_per_video)], dtype=object),
            "end": np.array([4 * k + 3 for k in range(clips_per_video)], dtype=object),
            "text": np.array([f"add item {k} to pot {index}" for k in range(clips_per_video)], dtype=object),
            "transcript": np.array([f"so now we add {k}" for k in range(clips_per_video)], dtype=object),
        }
        feature_file = f"{video_id}.mp4"
        features[feature_file] = rng.standard_normal((feature_frames, feature_dim)).astype(np.float32)
        rows["train" if index < train_videos else "val"].append([video_id, feature_file])
    with open(root / "youcookii_data.pickle", "wb") as fh:
        pickle.dump(data, fh)
    with open(root / "youcookii_videos_features.pickle", "wb") as fh:
        pickle.dump(features, fh)
    for name, split_rows in rows.items():
        _write_csv(root / f"youcookii_{name}.csv", split_rows, header=["video_id", "feature_file"])
    return {
        "train": _counts(train_videos, train_videos * clips_per_video, train_videos * clips_per_video),
        "test": _counts(test_videos, test_videos * clips_per_video, test_videos * clips_per_video),
    }


# ---------------------------------------------------------------------------------------- MSR-VTT
MSRVTT_TIMES = (137.72, 149.44)  # "start time"/"end time" of every fabricated video (a clip of 11.72 s)


def write_msrvtt(root: Path, n_videos: int = 12, n_test: int = 3, n_train_7k: int = 5,
                 captions_per_video: int = 20) -> dict[str, Counts]:
    """``MSRVTT_data.json``, ``MSRVTT_train.9k.csv`` (every non-test video), ``MSRVTT_train.7k.csv``
    (the first ``n_train_7k``) and ``MSRVTT_JSFUSION_test.csv`` (the last ``n_test``, one sentence
    each, taken from the video's captions). Returns counts per MSR-VTT split (split1, split2)."""
    videos, sentences = [], []
    for index in range(n_videos):
        official = "train" if index < n_videos - n_test - 1 else "validate" if index < n_videos - n_test else "test"
        videos.append({
            "category": index % 20, "url": f"https://www.youtube.com/watch?v={youtube_id('mv', index)}",
            "video_id": f"video{index}", "start time": MSRVTT_TIMES[0], "end time": MSRVTT_TIMES[1],
            "split": official, "id": index,
        })
        for k in range(captions_per_video):
            sentences.append({"caption": f"a person does thing {k} in video {index}", "video_id": f"video{index}",
                              "sen_id": index * captions_per_video + k})
    root = Path(root)
    _write_json(root / "MSRVTT_data.json", {"info": {"year": "2016"}, "videos": videos, "sentences": sentences})
    n_train_9k = n_videos - n_test
    _write_csv(root / "MSRVTT_train.9k.csv", [[f"video{i}"] for i in range(n_train_9k)], header=["video_id"])
    _write_csv(root / "MSRVTT_train.7k.csv", [[f"video{i}"] for i in range(n_train_7k)], header=["video_id"])
    test_rows = [[f"ret{k}", f"msr{index}", f"video{index}", f"a person does thing 1 in video {index}"]
                 for k, index in enumerate(range(n_train_9k, n_videos))]
    _write_csv(root / "MSRVTT_JSFUSION_test.csv", test_rows, header=["key", "vid_key", "video_id", "sentence"])
    test = _counts(n_test, n_test, n_test)
    return {
        "split1": {"train": _counts(n_train_9k, n_train_9k, n_train_9k * captions_per_video), "test": test},
        "split2": {"train": _counts(n_train_7k, n_train_7k, n_train_7k * captions_per_video), "test": test},
    }


# ------------------------------------------------------------------------------------ ActivityNet
def write_activitynet(root: Path, train_videos: int = 3, val_videos: int = 2, id_files: bool = False) -> Counts:
    """``train.json`` and ``val_1.json`` keyed ``v_<id>``; sentences carry the release's stray spaces.
    With ``id_files``, ``train_ids.json`` lists every training video but the first (ids with ``v_``,
    as CLIP4Clip's copy has them) and ``val_ids.json`` every val video."""
    root = Path(root)
    files = {"train.json": {}, "val_1.json": {}}
    for index in range(train_videos + val_videos):
        name = "train.json" if index < train_videos else "val_1.json"
        sentences = [f" Person {index} walks in.", f"  They pick item {index} up.  ", "They leave. "]
        files[name][f"v_{youtube_id('an', index)}"] = {
            "duration": 80.25 + index,
            "timestamps": [[0.0, 20.5], [20.5, 60.0], [60.0, 80.25 + index]],
            "sentences": sentences,
        }
    for name, payload in files.items():
        _write_json(root / name, payload)
    kept_train = train_videos
    if id_files:
        _write_json(root / "train_ids.json", list(files["train.json"])[1:])
        _write_json(root / "val_ids.json", list(files["val_1.json"]))
        kept_train -= 1
    return {"train": _counts(kept_train, kept_train, kept_train), "test": _counts(val_videos, val_videos, val_videos)}


# -------------------------------------------------------------------------------------- HowTo100M
# Word counts of each video's narration clips in time order, grouped as a greedy merge with
# min_words=10 must group them: a group's words reach 10 only with its last clip; a trailing
# remainder under 10 words joins the group before it.
HOWTO100M_GROUPS = {
    "ht_a": [[3, 4, 5], [10], [0, 2, 2, 2, 2, 2, 4]],  # 0 = an empty narration; the final 4 is a remainder
    "ht_b": [[9, 1, 6]],                                 # 9 + 1 reach 10, then a remainder of 6
    "ht_c": [],                                          # only 7 words in all ([4, 3]): no clip
    "ht_d": [[12]],                                      # missing from HowTo100M_v1.csv
}
HOWTO100M_SHORT_VIDEO = {"ht_c": [4, 3]}


def howto100m_narrations(video: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of a fabricated video's narration clips in time order (overlapping, as ASR)."""
    counts = HOWTO100M_SHORT_VIDEO.get(video) or [n for group in HOWTO100M_GROUPS[video] for n in group]
    narrations = []
    for k, n_words in enumerate(counts):
        text = " ".join(f"{video}w{k}n{j}" for j in range(n_words)) or " "
        narrations.append((1.5 * k + 0.25, 1.5 * k + 2.25, text))
    return narrations


def write_howto100m(root: Path, raw: bool = True, with_index: bool = True) -> Counts:
    """``raw_caption.json`` (or ``caption.json`` when not ``raw``) for the videos of HOWTO100M_GROUPS,
    each video's arrays stored in reverse time order; with ``with_index``, ``HowTo100M_v1.csv`` lists
    every video but ``ht_d``. Counts are for the default ``min_words=10``."""
    root = Path(root)
    captions = {}
    for video in HOWTO100M_GROUPS:
        narrations = howto100m_narrations(video)[::-1]
        captions[video] = {"text": [t for _, _, t in narrations], "start": [s for s, _, _ in narrations],
                           "end": [e for _, e, _ in narrations]}
    _write_json(root / ("raw_caption.json" if raw else "caption.json"), captions)
    videos = [video for video in HOWTO100M_GROUPS if not (with_index and video == "ht_d")]
    if with_index:
        rows = [[video, "Food and Entertaining", "Recipes", k + 1, 100 + k] for k, video in enumerate(videos)]
        _write_csv(root / "HowTo100M_v1.csv", rows, header=["video_id", "category_1", "category_2", "rank", "task_id"])
    n_clips = sum(len(HOWTO100M_GROUPS[video]) for video in videos)
    n_videos = sum(1 for video in videos if HOWTO100M_GROUPS[video])
    return {"train": _counts(n_videos, n_clips, n_clips)}


# -------------------------------------------------------------------------------------- CrossTask
def crosstask_steps(task_index: int) -> list[str]:
    return [f"step {k} of task {task_index}" for k in range(1, 4 + task_index)]


def crosstask_task_id(task_index: int) -> str:
    return str(16815 + 1000 * task_index)


def crosstask_annotation(video_index: int, n_steps: int) -> list[tuple[int, float, float]]:
    """(step, start, end) rows of a fabricated video: steps 1, 2, 2 (a step done twice) and the last."""
    steps = [1, 2, 2, n_steps]
    return [(step, 10.0 * k + video_index + 0.5, 10.0 * k + video_index + 4.25) for k, step in enumerate(steps)]


def write_crosstask(root: Path, n_tasks: int = 2, videos_per_task: int = 3, val_per_task: int = 1) -> Counts:
    """``tasks_primary.txt``, ``videos.csv`` (primary videos plus one video of a related task without
    annotations), ``videos_val.csv`` (the first ``val_per_task`` videos of each task, also in
    videos.csv as in the release) and ``annotations/<task>_<vid>.csv``. Counts are those of
    ``crosstask_clips``: videos_val.csv videos are "train", the others "test"."""
    root = Path(root)
    blocks, video_rows, val_rows = [], [], []
    for t in range(n_tasks):
        task_id, steps = crosstask_task_id(t), crosstask_steps(t)
        blocks.append(f"{task_id}\nTask number {t}\nhttp://www.wikihow.com/Task-{t}\n{len(steps)}\n{','.join(steps)}\n")
        for v in range(videos_per_task):
            video_index = t * videos_per_task + v
            video_id = youtube_id("ct", video_index)
            row = [task_id, video_id, f"https://www.youtube.com/watch?v={video_id}"]
            video_rows.append(row)
            if v < val_per_task:
                val_rows.append(row)
            _write_csv(root / "annotations" / f"{task_id}_{video_id}.csv",
                       [list(r) for r in crosstask_annotation(video_index, len(steps))])
    video_rows.append(["91537", youtube_id("rel", 0), "https://www.youtube.com/watch?v=related"])
    (root / "tasks_primary.txt").write_text("\n".join(blocks), encoding="utf-8")
    _write_csv(root / "videos.csv", video_rows)
    _write_csv(root / "videos_val.csv", val_rows)
    rows_per_video = 4
    train_videos = n_tasks * val_per_task
    test_videos = n_tasks * (videos_per_task - val_per_task)
    return {
        "train": _counts(train_videos, train_videos * rows_per_video, train_videos * rows_per_video),
        "test": _counts(test_videos, test_videos * rows_per_video, test_videos * rows_per_video),
    }


# ------------------------------------------------------------------------------------------- COIN
def coin_step_id(video_index: int, k: int) -> int:
    return 100 + 7 * video_index + k


def write_coin(root: Path, train_videos: int = 2, test_videos: int = 2, validation_videos: int = 1,
               segments_per_video: int = 2) -> Counts:
    """``COIN.json`` with subsets "training", "testing" and (as the documentation also names it)
    "validation"; step ids are strings and recipe_type an int, as in the release."""
    database = {}
    subsets = ["training"] * train_videos + ["testing"] * test_videos + ["validation"] * validation_videos
    for index, subset in enumerate(subsets):
        annotation = [
            {"id": str(coin_step_id(index, k)), "segment": [20.0 * k + 3.0, 20.0 * k + 11.5],
             "label": f"coin step {coin_step_id(index, k)}"}
            for k in range(segments_per_video)
        ]
        duration = 20.0 * segments_per_video + 5.0
        database[youtube_id("co", index)] = {
            "duration": duration, "class": f"Task{index}", "video_url": "https://www.youtube.com/embed/x",
            "start": 0.0, "end": duration, "subset": subset, "recipe_type": 40 + index, "annotation": annotation,
        }
    _write_json(Path(root) / "COIN.json", {"database": database})
    n_test = test_videos + validation_videos
    return {
        "train": _counts(train_videos, train_videos * segments_per_video, train_videos * segments_per_video),
        "test": _counts(n_test, n_test * segments_per_video, n_test * segments_per_video),
    }
