"""A retrieval dataset ready for the trainer: splits, unique video segments, text tables, batches.

A pretraining dataset (HowTo100M, paper 4.3) has training narrations only: its splits are "train"
and a held-out "val", and there is no "test" key. Zero-shot transfer evaluates such a model on
another dataset's test split (Table 8): that dataset's RetrievalData is built as for training on it,
so its token weights use the idf of its own training captions (Eq. 7), never its test captions.
"""
from __future__ import annotations

import functools
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from taco.config import RunConfig
from taco.data.loaders import load_clips
from taco.data.records import Clip
from taco.data.splits import hold_out_validation
from taco.features.store import FeatureStore, pad_batch
from taco.model.text_cache import TextFeatureCache
from taco.text.prepare import TextTable, prepare_text

PRETRAINING_DATASETS = ("howto100m",)  # training narrations only, no test split (paper 4.3)
PRELOAD_LIMIT_BYTES = 2 << 30  # training features held in memory per job at most; above, per-item reads
logger = logging.getLogger("taco.data")


@dataclass
class RetrievalSplit:
    """Captions (one per row) and the distinct video segments they describe."""

    clips: list[Clip]
    segments: list[tuple[str, float, float]]
    text_to_segment: np.ndarray
    text: TextTable

    def __len__(self) -> int:
        return len(self.clips)


def index_segments(clips: list[Clip]) -> tuple[list[tuple[str, float, float]], np.ndarray]:
    """Distinct (video, start, end) segments in first-appearance order and each caption's segment index."""
    order: dict[tuple[str, float, float], int] = {}
    index = np.array([order.setdefault(c.segment, len(order)) for c in clips], dtype=np.int64)
    return list(order), index


def validation_subset(clips: list[Clip], max_segments: int, seed: int) -> list[Clip]:
    """One caption of each of at most ``max_segments`` segments (0: of every segment), both chosen with a seeded draw: the
    validation split mirrors a one-caption-per-video test (MSR-VTT's 20 captions per video would make
    selection 20 times dearer and weight videos by their caption count)."""
    rng = random.Random(seed)
    by_segment: dict[tuple[str, float, float], list[Clip]] = {}
    for clip in clips:
        by_segment.setdefault(clip.segment, []).append(clip)
    segments = list(by_segment)
    if 0 < max_segments < len(segments):
        segments = rng.sample(segments, max_segments)
    keep = {id(rng.choice(by_segment[segment])) for segment in segments}
    return [c for c in clips if id(c) in keep]


def loader_options(cfg: RunConfig) -> dict:
    """The dataset loader's options taken from ``cfg.data`` (see ``load_clips``)."""
    if cfg.data.dataset == "msrvtt":
        return {"split": cfg.data.split}
    if cfg.data.dataset == "howto100m":
        return {"min_words": cfg.data.min_words}
    return {}


def split_clips(cfg: RunConfig) -> dict[str, list[Clip]]:
    """Train/val/test clips of the configured dataset; validation held out of training when absent.
    A pretraining dataset has no "test" key (module doc)."""
    clips = load_clips(cfg.data.dataset, Path(cfg.data.root), **loader_options(cfg))
    if not any(c.split == "val" for c in clips):
        clips = hold_out_validation(clips, cfg.data.val_fraction, seed=0)
    names = ("train", "val") if cfg.data.dataset in PRETRAINING_DATASETS else ("train", "val", "test")
    by_split = {name: [c for c in clips if c.split == name] for name in names}
    by_split["val"] = validation_subset(by_split["val"], cfg.data.max_val_items, seed=0)
    for name, items in by_split.items():
        if not items:
            raise ValueError(f"dataset {cfg.data.dataset} at {cfg.data.root} has no {name} clips")
    return by_split


def frozen_text_cache(cfg: RunConfig, tables: list[TextTable], progress: bool = False) -> TextFeatureCache | None:
    """In frozen text mode, the cache of the pretrained text encoder's features holding every caption
    of ``tables``; None in finetune mode (the model reads wordpiece ids)."""
    if cfg.model.text_mode != "frozen":
        return None
    cache = TextFeatureCache(cfg.cache_dir, cfg.model.text_model, cfg.data.max_text_tokens)
    cache.add([c for t in tables for c in t.captions], np.concatenate([t.input_ids for t in tables]),
              np.concatenate([t.attention_mask for t in tables]), progress=progress)
    return cache


def text_tokens(table: TextTable, rows, text_cache: TextFeatureCache | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(tokens, mask, weights) of rows of a table, trimmed to their longest caption; tokens are cached
    features when ``text_cache`` is given (frozen mode), else wordpiece ids."""
    rows = np.asarray(rows)
    mask = table.attention_mask[rows]
    length = int(mask.sum(1).max())
    if text_cache is not None:
        tokens = torch.from_numpy(text_cache.get([table.captions[i] for i in rows], length))
    else:
        tokens = torch.from_numpy(table.input_ids[rows, :length])
    return tokens, torch.from_numpy(mask[:, :length]), torch.from_numpy(table.weights[rows, :length])


class RaggedRows:
    """Items of (m_i, D) rows stored back to back in one tensor; batches come out zero-padded to their
    longest item, as ``pad_batch`` pads them. Rows are kept as float16 when that is exact (float16
    items, e.g. stored float16 features, are joined as they are: no float32 copy), else as float32."""

    def __init__(self, items: list[np.ndarray]):
        flat = np.concatenate(items)
        if flat.dtype != np.float16:
            flat = flat.astype(np.float32, copy=False)
            half = flat.astype(np.float16)
            flat = half if np.array_equal(half, flat) else flat
        self.rows = torch.from_numpy(flat)
        self.lengths = torch.tensor([len(item) for item in items])
        self.starts = torch.cumsum(self.lengths, 0) - self.lengths

    def batch(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, m, D) float32 values and (B, m) mask of items ``index``, m their longest length."""
        index = torch.as_tensor(np.asarray(index))
        lengths = self.lengths[index]
        mask = torch.arange(int(lengths.max()))[None] < lengths[:, None]
        values = torch.zeros(*mask.shape, self.rows.shape[1])
        values[mask] = self.rows[(self.starts[index][:, None] + torch.arange(mask.shape[1]))[mask]].float()
        return values, mask


class RetrievalData:
    """Everything a run reads: features, per-split text tables and (frozen mode) cached text features."""

    @staticmethod
    def settings_key(cfg: RunConfig) -> tuple:
        """The settings this class reads: two configs with the same key (the seeds of one run) can
        share one instance."""
        return (tuple(sorted(cfg.to_dict()["data"].items())), cfg.loss.tokens_of_interest, cfg.model.text_model,
                cfg.model.text_mode, cfg.cache_dir)

    def __init__(self, cfg: RunConfig, progress: bool = False):
        self.cfg = cfg
        clips = split_clips(cfg)
        self.store = FeatureStore(Path(cfg.data.root), cfg.data.features)
        captions = {name: [c.text for c in items] for name, items in clips.items()}
        self.idf, tables = prepare_text(captions, cfg.loss.tokens_of_interest, cfg.model.text_model,
                                        cfg.data.max_text_tokens, cfg.cache_dir, progress=progress)
        self.splits = {}
        for name, items in clips.items():
            segments, index = index_segments(items)
            self.splits[name] = RetrievalSplit(items, segments, index, tables[name])
        self.text_cache = frozen_text_cache(cfg, list(tables.values()), progress=progress)

    @property
    def video_dim(self) -> int:
        return self.store.dim

    def video_batch(self, split: str, segment_indices) -> tuple[torch.Tensor, torch.Tensor]:
        segments = self.splits[split].segments
        clips = []
        for i in segment_indices:
            video_id, start, end = segments[i]
            clips.append(self.store.clip(video_id, start, end, self.cfg.data.max_video_tokens))
        return pad_batch(clips)

    def text_batch(self, split: str, text_indices) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tokens, mask, weights) trimmed to the longest caption of the batch; tokens are ids or features."""
        return text_tokens(self.splits[split].text, text_indices, self.text_cache)

    @functools.cached_property
    def preloaded_train(self) -> tuple[RaggedRows, RaggedRows | None] | None:
        """The training split's video clips (as ``video_batch`` reads them) and, in frozen text mode,
        its cached text features (each caption's real tokens), read once; None when larger than
        PRELOAD_LIMIT_BYTES (an upper bound at float32), then ``train_batch`` reads per item."""
        split = self.splits["train"]
        table = split.text
        lengths = table.attention_mask.sum(1)
        video_bytes = len(split.segments) * self.cfg.data.max_video_tokens * self.video_dim * 4
        text_bytes = int(lengths.sum()) * self.text_cache.width * 4 if self.text_cache is not None else 0
        if video_bytes + text_bytes > PRELOAD_LIMIT_BYTES:
            logger.info("training features need up to %.1f GB (> %.1f GB): read per batch",
                        (video_bytes + text_bytes) / 1e9, PRELOAD_LIMIT_BYTES / 1e9)
            return None
        max_tokens = self.cfg.data.max_video_tokens
        video = RaggedRows([self.store.clip(*segment, max_tokens) for segment in split.segments])
        text = None
        if self.text_cache is not None:
            text = RaggedRows([self.text_cache.rows(caption, int(n)) for caption, n in zip(table.captions, lengths)])
        return video, text

    def train_batch(self, text_indices) -> dict[str, torch.Tensor]:
        """Video and text of training captions, from memory once ``preloaded_train`` fits, else read per item."""
        split = self.splits["train"]
        text_indices = np.asarray(text_indices)
        segments = split.text_to_segment[text_indices]
        # with preloaded features only the mask and weights are read here (tokens: ids, replaced below)
        text, text_mask, weights = text_tokens(split.text, text_indices, None if self.preloaded_train else self.text_cache)
        if self.preloaded_train is None:
            video, video_mask = self.video_batch("train", segments)
        else:
            video_rows, text_rows = self.preloaded_train
            video, video_mask = video_rows.batch(segments)
            if text_rows is not None:
                text = text_rows.batch(text_indices)[0]
        return {"video": video, "video_mask": video_mask, "text": text, "text_mask": text_mask, "weights": weights}
