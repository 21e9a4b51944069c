"""Registry of the clip loaders for retrieval and pretraining datasets, by config name."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from taco.data.activitynet import load_activitynet
from taco.data.howto100m import load_howto100m
from taco.data.msrvtt import load_msrvtt
from taco.data.records import Clip
from taco.data.youcook2 import load_youcook2

CLIP_LOADERS: dict[str, Callable[..., list[Clip]]] = {
    "youcook2": load_youcook2,
    "msrvtt": load_msrvtt,
    "activitynet": load_activitynet,
    "howto100m": load_howto100m,
}


def load_clips(dataset: str, root: Path, **options) -> list[Clip]:
    """Clips of ``dataset`` (a key of CLIP_LOADERS) from the release folder ``root``.

    ``options`` go to the dataset's loader (``split`` for MSR-VTT, ``min_words``/``raw`` for
    HowTo100M). Raises when the dataset is unknown, the folder is missing or nothing is left.
    """
    if dataset not in CLIP_LOADERS:
        raise ValueError(f"unknown dataset '{dataset}' (known: {', '.join(sorted(CLIP_LOADERS))})")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root '{root}' for '{dataset}' is not a directory")
    clips = CLIP_LOADERS[dataset](root, **options)
    if not clips:
        raise ValueError(f"dataset {dataset} at {root} has no clips after filtering (options: {options or 'none'})")
    return clips
