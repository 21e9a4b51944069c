"""COIN (action segmentation, section 4.5): ``COIN.json`` = ``{"database": {vid: {...}}}``.

Subset "training" is the train split; "testing" (and "validation", which the documentation also
names) is the test split. Step ids are strings in the file (778 step classes, 0 = background)
and are converted to int.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taco.data.annotation_io import AnnotationError, field, read_json, seconds, segment_field, subset_split
from taco.data.records import Clip

ANNOTATION_FILE = "COIN.json"
SUBSET_TO_SPLIT = {"training": "train", "testing": "test", "validation": "test"}


@dataclass(frozen=True)
class CoinVideo:
    """One annotated video: ``segments`` are ``(start, end, step_id, label)`` in file order."""

    video_id: str
    duration: float
    subset: str  # "train" | "test"
    recipe_type: int
    segments: list[tuple[float, float, int, str]]


def _integer(value: object, path: Path, item: str, what: str) -> int:
    """An int from an int or a decimal string, else an error naming the item."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise AnnotationError(f"{path}: {item}: {what} must be a non-negative integer (or its string), got {value!r}")


def load_coin(root: Path) -> list[CoinVideo]:
    """Every video of ``COIN.json`` with its step segments."""
    path = Path(root) / ANNOTATION_FILE
    database = field(read_json(path), "database", path, "the file", dict)
    videos = []
    for video_id, video in database.items():
        item = f"video '{video_id}'"
        split = subset_split(video, SUBSET_TO_SPLIT, path, item)
        segments = []
        for index, annotation in enumerate(field(video, "annotation", path, item, list)):
            segment_item = f"{item} segment {index}"
            start, end = segment_field(annotation, path, segment_item)
            step_id = _integer(field(annotation, "id", path, segment_item), path, segment_item, "step id")
            label = field(annotation, "label", path, segment_item, str)
            segments.append((start, end, step_id, label))
        videos.append(
            CoinVideo(
                video_id=video_id,
                duration=seconds(field(video, "duration", path, item), path, item, "duration"),
                subset=split,
                recipe_type=_integer(field(video, "recipe_type", path, item), path, item, "recipe_type"),
                segments=segments,
            )
        )
    return videos


def coin_clips(videos: list[CoinVideo]) -> list[Clip]:
    """One Clip per step segment (text = the step label, split = the video's subset)."""
    return [
        Clip(video_id=video.video_id, start=start, end=end, text=label, split=video.subset)
        for video in videos
        for start, end, _step_id, label in video.segments
    ]
