"""Validation hold-out for releases without a validation split, and per-split counts.

Checkpoints are selected on validation, never on test (DESIGN.md, "Honest comparison"); whole
training videos are held out so no clip of a validation video is trained on.
"""
from __future__ import annotations

import dataclasses
import random

from taco.data.records import SPLITS, Clip, count


def hold_out_validation(clips: list[Clip], fraction: float, seed: int) -> list[Clip]:
    """A new list where a seeded random ``fraction`` of the training videos have split "val".

    The number of held-out videos is ``round(fraction * n_train_videos)``, at least 1 and at most
    ``n_train_videos - 1``; the choice depends only on the sorted training video ids and ``seed``.
    Clips of other splits are unchanged.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    train_videos = sorted({clip.video_id for clip in clips if clip.split == "train"})
    if len(train_videos) < 2:
        raise ValueError(f"cannot hold out validation videos from {len(train_videos)} training video(s); need at least 2")
    n_val = min(max(1, round(fraction * len(train_videos))), len(train_videos) - 1)
    val_videos = set(random.Random(seed).sample(train_videos, n_val))
    return [
        dataclasses.replace(clip, split="val") if clip.split == "train" and clip.video_id in val_videos else clip
        for clip in clips
    ]


def split_summary(clips: list[Clip]) -> dict[str, dict[str, int]]:
    """``records.count`` of the clips of each split (every split in SPLITS, zeros when absent)."""
    return {split: count([clip for clip in clips if clip.split == split]) for split in SPLITS}
