"""ActivityNet Captions for paragraph-to-video retrieval: ``train.json`` (train) and ``val_1.json`` (test).

Each video is one Clip: its paragraph (all non-blank sentences, stripped, joined by single spaces) over
``[0, ceil(duration)]``. Video ids drop the release's ``v_`` prefix, matching the feature file
names. Optional ``train_ids.json`` / ``val_ids.json`` (lists of ids, with or without ``v_``)
restrict the videos; an id they list must exist in the matching annotation file.
"""
from __future__ import annotations

import math
from pathlib import Path

from taco.data.annotation_io import AnnotationError, field, make_clip, read_json, seconds
from taco.data.records import Clip

SPLIT_FILES = {"train": ("train.json", "train_ids.json"), "test": ("val_1.json", "val_ids.json")}
PREFIX = "v_"


def _without_prefix(key: str) -> str:
    return key[len(PREFIX):] if key.startswith(PREFIX) else key


def _selected_ids(path: Path, available: set[str]) -> set[str] | None:
    """Ids (without prefix) listed in an optional id file, or None when the file is absent."""
    if not path.is_file():
        return None
    listed = read_json(path)
    if not isinstance(listed, list) or not all(isinstance(key, str) for key in listed):
        raise AnnotationError(f"{path}: expected a JSON list of video ids")
    selected = {_without_prefix(key) for key in listed}
    missing = sorted(selected - available)
    if missing:
        raise AnnotationError(f"{path}: video '{missing[0]}' has no annotation")
    return selected


def load_activitynet(root: Path) -> list[Clip]:
    """One paragraph Clip per video of ``train.json`` (train) and ``val_1.json`` (test)."""
    root = Path(root)
    clips = []
    for split, (annotation_name, ids_name) in SPLIT_FILES.items():
        path = root / annotation_name
        videos = read_json(path)
        if not isinstance(videos, dict):
            raise AnnotationError(f"{path}: expected a JSON object keyed by video id")
        selected = _selected_ids(root / ids_name, {_without_prefix(key) for key in videos})
        for key, video in videos.items():
            video_id = _without_prefix(key)
            if selected is not None and video_id not in selected:
                continue
            item = f"video '{key}'"
            duration = seconds(field(video, "duration", path, item), path, item, "duration")
            sentences = field(video, "sentences", path, item)
            if not isinstance(sentences, list) or not sentences or not all(isinstance(s, str) for s in sentences):
                raise AnnotationError(f"{path}: {item}: sentences must be a non-empty list of strings")
            paragraph = " ".join(sentence.strip() for sentence in sentences if sentence.strip())
            clips.append(make_clip(video_id, 0.0, math.ceil(duration), paragraph, split, path, item))
    return clips
