"""MSR-VTT: ``MSRVTT_data.json`` with the 9k (split1, the paper's) or 7k (split2) training list and
the JSFusion 1k test set.

Every MSR-VTT video is itself a short clip cut from a YouTube video and its features are extracted
per clip-video, so a Clip spans the whole clip-video: start 0.0 and end = "end time" - "start time"
of the JSON entry (times relative to the clip-video, not to the YouTube source).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from taco.data.annotation_io import AnnotationError, field, make_clip, read_csv_rows, read_json, seconds
from taco.data.records import Clip

DATA_FILE = "MSRVTT_data.json"
TRAIN_FILES = {"split1": "MSRVTT_train.9k.csv", "split2": "MSRVTT_train.7k.csv"}
TEST_FILE = "MSRVTT_JSFUSION_test.csv"
TEST_HEADER = ("key", "vid_key", "video_id", "sentence")


def _durations(data: dict, path: Path) -> dict[str, float]:
    """Clip-video length in seconds per video id, from the JSON's "start time"/"end time"."""
    durations = {}
    for index, video in enumerate(field(data, "videos", path, "the file", list)):
        video_id = field(video, "video_id", path, f"videos[{index}]")
        item = f"video '{video_id}'"
        start = seconds(field(video, "start time", path, item), path, item, "start time")
        end = seconds(field(video, "end time", path, item), path, item, "end time")
        if end < start:
            raise AnnotationError(f"{path}: {item}: end time {end} is before start time {start}")
        durations[video_id] = end - start
    return durations


def _captions(data: dict, path: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = defaultdict(list)
    for index, sentence in enumerate(field(data, "sentences", path, "the file", list)):
        item = f"sentences[{index}]"
        captions[field(sentence, "video_id", path, item)].append(field(sentence, "caption", path, item))
    return captions


def load_msrvtt(root: Path, split: str = "split1") -> list[Clip]:
    """Training: every caption of every video of the split's training csv (20 per video).
    Test: the 1000 JSFusion videos, one caption each (the csv's sentence)."""
    if split not in TRAIN_FILES:
        raise ValueError(f"unknown MSR-VTT split '{split}' (known: {', '.join(TRAIN_FILES)})")
    root = Path(root)
    data_path = root / DATA_FILE
    data = read_json(data_path)
    durations = _durations(data, data_path)
    captions = _captions(data, data_path)

    train_path = root / TRAIN_FILES[split]
    test_path = root / TEST_FILE
    test_rows = list(read_csv_rows(test_path, columns=len(TEST_HEADER), header=TEST_HEADER))
    test_ids = {row[2] for _, row in test_rows}

    clips = []
    train_ids: set[str] = set()
    for line, (video_id,) in read_csv_rows(train_path, columns=1, header=("video_id",)):
        item = f"line {line}: video '{video_id}'"
        if video_id in train_ids:
            raise AnnotationError(f"{train_path}: {item} is listed twice")
        train_ids.add(video_id)
        if video_id in test_ids:
            raise AnnotationError(f"{train_path}: {item} is also a test video in {test_path}")
        if video_id not in durations:
            raise AnnotationError(f"{train_path}: {item} is not among the videos of {data_path}")
        if not captions.get(video_id):
            raise AnnotationError(f"{train_path}: {item} has no sentences in {data_path}")
        for caption in captions[video_id]:
            clips.append(make_clip(video_id, 0.0, durations[video_id], caption, "train", data_path, f"video '{video_id}'"))
    for line, (_, _, video_id, sentence) in test_rows:
        item = f"line {line}: video '{video_id}'"
        if video_id not in durations:
            raise AnnotationError(f"{test_path}: {item} is not among the videos of {data_path}")
        clips.append(make_clip(video_id, 0.0, durations[video_id], sentence, "test", test_path, item))
    return clips
