"""YouCook2: the official annotation file, and UniVL's pickled release of captions and S3D features.

The official ``validation`` subset is the test set of the paper (and of every work it compares
with); the release has no labelled test subset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from taco.atomic import atomic_path
from taco.data.annotation_io import (
    AnnotationError,
    field,
    make_clip,
    read_csv_rows,
    read_json,
    segment_field,
    subset_split,
)
from taco.data.records import Clip
from taco.data.safe_pickle import safe_load

ANNOTATION_FILE = "youcookii_annotations_trainval.json"
SUBSET_TO_SPLIT = {"training": "train", "validation": "test"}
UNIVL_DATA_FILE = "youcookii_data.pickle"
UNIVL_TRAIN_CSV = "youcookii_train.csv"
UNIVL_TEST_CSV = "youcookii_val.csv"
UNIVL_CSV_HEADER = ("video_id", "feature_file")


def load_youcook2(root: Path) -> list[Clip]:
    """One Clip per annotated segment of ``youcookii_annotations_trainval.json``."""
    path = Path(root) / ANNOTATION_FILE
    database = field(read_json(path), "database", path, "the file", dict)
    clips = []
    for video_id, video in database.items():
        item = f"video '{video_id}'"
        split = subset_split(video, SUBSET_TO_SPLIT, path, item)
        for index, annotation in enumerate(field(video, "annotations", path, item, list)):
            clip_item = f"{item} annotation {index}"
            start, end = segment_field(annotation, path, clip_item)
            sentence = field(annotation, "sentence", path, clip_item)
            clips.append(make_clip(video_id, start, end, sentence, split, path, clip_item))
    return clips


def _csv_video_ids(path: Path) -> list[str]:
    """The ``video_id`` column of one of UniVL's split csv files (``video_id,feature_file``)."""
    return [row[0] for _, row in read_csv_rows(path, columns=2, header=UNIVL_CSV_HEADER)]


def load_youcook2_univl(root: Path) -> list[Clip]:
    """Clips of UniVL's ``youcookii_data.pickle`` ({vid: {"start", "end", "text", "transcript"}}) in ``root``.

    The pickle is per video with aligned arrays; its ASR ``transcript`` is not a caption and is
    ignored. The videos of ``youcookii_val.csv`` are the test split; those of ``youcookii_train.csv``,
    when it exists, the train split (videos in neither are left out); without it, every other video.
    """
    data_pickle = Path(root) / UNIVL_DATA_FILE
    data = safe_load(data_pickle)
    if not isinstance(data, dict):
        raise AnnotationError(f"{data_pickle}: expected a dict of videos, got {type(data).__name__}")
    train_csv = Path(root) / UNIVL_TRAIN_CSV
    splits = {video_id: "test" for video_id in _csv_video_ids(Path(root) / UNIVL_TEST_CSV)}
    if train_csv.is_file():
        for video_id in _csv_video_ids(train_csv):
            if splits.setdefault(video_id, "train") != "train":
                raise AnnotationError(f"{train_csv}: video '{video_id}' is also in {UNIVL_TEST_CSV}")
    else:
        splits.update({video_id: "train" for video_id in data if video_id not in splits})
    unknown = sorted(set(splits) - set(data))
    if unknown:
        raise AnnotationError(f"{data_pickle}: {splits[unknown[0]]} video '{unknown[0]}' of the csv files is not "
                              f"in the pickle")
    clips = []
    for video_id, video in data.items():
        if video_id not in splits:
            continue
        item = f"video '{video_id}'"
        starts, ends, texts = (list(field(video, key, data_pickle, item)) for key in ("start", "end", "text"))
        if not len(starts) == len(ends) == len(texts):
            raise AnnotationError(
                f"{data_pickle}: {item}: start/end/text lengths differ ({len(starts)}/{len(ends)}/{len(texts)})"
            )
        for index, (start, end, text) in enumerate(zip(starts, ends, texts)):
            clips.append(make_clip(video_id, start, end, text, splits[video_id], data_pickle, f"{item} clip {index}"))
    return clips


def convert_univl_features(features_pickle: Path, out_dir: Path) -> list[Path]:
    """Write UniVL's ``{feature_file: (T, 1024) array}`` pickle as one float16 ``<name>.npy`` per video.

    The file name is the key's base name without extension. Every array is checked before the
    first file is written, and each file is written to a temporary name then renamed, so bad input
    leaves no partial output.
    """
    features_pickle = Path(features_pickle)
    features = safe_load(features_pickle)
    if not isinstance(features, dict):
        raise AnnotationError(f"{features_pickle}: expected a dict of feature arrays, got {type(features).__name__}")
    arrays: dict[str, np.ndarray] = {}
    keys_by_name: dict[str, str] = {}
    for key, value in features.items():
        name = Path(str(key)).stem
        if name in keys_by_name:
            raise AnnotationError(
                f"{features_pickle}: keys '{keys_by_name[name]}' and '{key}' map to the same file '{name}.npy'"
            )
        keys_by_name[name] = str(key)
        array = np.asarray(value)
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise AnnotationError(f"{features_pickle}: '{key}' must be a 2-D numeric (T, D) array, got {array.dtype} {array.shape}")
        half = array.astype(np.float16)
        if not np.isfinite(half).all():
            raise AnnotationError(f"{features_pickle}: '{key}' has values that are not finite in float16")
        arrays[name] = half
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, array in arrays.items():
        target = out_dir / f"{name}.npy"
        with atomic_path(target) as temporary, open(temporary, "wb") as fh:
            np.save(fh, array)
        written.append(target)
    return written
