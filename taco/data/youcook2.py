"""YouCook2: the official annotation file, and UniVL's pickled release of captions and S3D features.

The official ``validation`` subset is the test set of the paper (and of every work it compares
with); the release has no labelled test subset.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from taco.atomic import atomic_path
from taco.data.annotation_io import (
    AnnotationError,
    field,
    make_clip,
    read_json,
    segment_field,
    subset_split,
)
from taco.data.records import Clip
from taco.data.safe_pickle import safe_load

ANNOTATION_FILE = "youcookii_annotations_trainval.json"
SUBSET_TO_SPLIT = {"training": "train", "validation": "test"}


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


def load_youcook2_univl(data_pickle: Path, test_video_ids: Iterable[str] | None = None) -> list[Clip]:
    """Clips of UniVL's ``youcookii_data.pickle`` ({vid: {"start", "end", "text", "transcript"}}).

    The pickle is per video with aligned arrays; its ASR ``transcript`` is not a caption and is
    ignored. Videos in ``test_video_ids`` get split "test", all others "train".
    """
    data_pickle = Path(data_pickle)
    data = safe_load(data_pickle)
    if not isinstance(data, dict):
        raise AnnotationError(f"{data_pickle}: expected a dict of videos, got {type(data).__name__}")
    test_ids = set(test_video_ids or ())
    unknown = sorted(test_ids - set(data))
    if unknown:
        raise AnnotationError(f"{data_pickle}: test video id '{unknown[0]}' is not in the pickle")
    clips = []
    for video_id, video in data.items():
        item = f"video '{video_id}'"
        starts, ends, texts = (list(field(video, key, data_pickle, item)) for key in ("start", "end", "text"))
        if not len(starts) == len(ends) == len(texts):
            raise AnnotationError(
                f"{data_pickle}: {item}: start/end/text lengths differ ({len(starts)}/{len(ends)}/{len(texts)})"
            )
        split = "test" if video_id in test_ids else "train"
        for index, (start, end, text) in enumerate(zip(starts, ends, texts)):
            clips.append(make_clip(video_id, start, end, text, split, data_pickle, f"{item} clip {index}"))
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
