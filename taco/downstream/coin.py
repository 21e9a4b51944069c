"""COIN action segmentation with the pretrained video encoder (paper 5.2, Table 9).

"Action segmentation does not rely on texts, and thus can be used to evaluate the learned video
representation": a linear classifier over the video encoder's output tokens (1 token per second)
labels every second with a step class or background (0). Protocol of VideoCLIP's public code
(docs/data_formats.md): trained on the training videos over 32-second windows every 8 s; tested over
windows every 16 s whose logits are averaged where they overlap; frame accuracy pooled over all
test seconds, background included (``coin_eval``). ``linear_probe`` trains the head only (the
encoder frozen, in eval mode); ``finetune`` trains the encoder too. Adam, seeded batches; the
whole job is deterministic on CPU for a given seed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from taco.data.coin import CoinVideo, load_coin
from taco.downstream.coin_eval import (
    BACKGROUND,
    average_window_logits,
    frame_accuracy,
    per_second_labels,
    window_starts,
)
from taco.downstream.common import per_second_features, tracked_job
from taco.features.store import FeatureStore, pad_batch
from taco.train import batch_indices, seed_step

MODES = ("linear_probe", "finetune")


def step_classes(videos: list[CoinVideo]) -> dict[int, int]:
    """Class index (1..C, 0 = background) of every step id of the release, in id order."""
    ids = sorted({step_id for video in videos for _, _, step_id, _ in video.segments})
    return {step_id: index + 1 for index, step_id in enumerate(ids)}


def video_labels(video: CoinVideo, num_seconds: int, classes: dict[int, int]) -> np.ndarray:
    """(num_seconds,) class of every second of a video (``per_second_labels``)."""
    return per_second_labels([(start, end, classes[step_id]) for start, end, step_id, _ in video.segments],
                             num_seconds)


class Segmenter(nn.Module):
    """The pretrained video encoder followed by a linear layer: (B, m, D) features -> (B, m, C) logits."""

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embed.position.embedding_dim, num_classes)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(features, mask))


@torch.no_grad()
def video_logits(segmenter: Segmenter, features: np.ndarray, window: int, stride: int) -> np.ndarray:
    """(T, C) logits of a whole video: windows of ``window`` s every ``stride`` s (``window_starts``),
    averaged where they overlap."""
    segmenter.eval()
    starts = window_starts(len(features), window, stride)
    clips = [features[start:start + window] for start in starts]
    values, mask = pad_batch(clips)
    logits = segmenter(values, mask)
    return average_window_logits([logits[i, :len(clip)].numpy() for i, clip in enumerate(clips)],
                                 starts, len(features))


def train_segmenter(segmenter: Segmenter, videos: list[tuple[np.ndarray, np.ndarray]], mode: str, seed: int,
                    iterations: int, batch_size: int, lr: float, window: int, stride: int,
                    progress: bool = False) -> list[float]:
    """Train on ``(features (T, D), labels (T,))`` videos over windows every ``stride`` s; returns the
    per-step losses. Step s takes its batch of windows from ``batch_indices(..., seed, s)``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    windows = [(i, start) for i, (features, _) in enumerate(videos)
               for start in window_starts(len(features), window, stride)]
    finetune = mode == "finetune"
    segmenter.encoder.requires_grad_(finetune)
    params = list(segmenter.head.parameters()) + (list(segmenter.encoder.parameters()) if finetune else [])
    optimizer = torch.optim.Adam(params, lr=lr)
    batch = min(batch_size, len(windows))
    losses = []
    for step in tqdm(range(iterations), desc=f"coin {mode}", disable=not progress):
        seed_step(seed, step, torch.device("cpu"))  # dropout of a finetuned encoder
        chosen = [windows[k] for k in batch_indices(len(windows), batch, seed, step)]
        values, mask = pad_batch([videos[i][0][start:start + window] for i, start in chosen])
        labels = torch.full(mask.shape, -100, dtype=torch.long)
        for row, (i, start) in enumerate(chosen):
            part = videos[i][1][start:start + window]
            labels[row, :len(part)] = torch.from_numpy(part)
        segmenter.train()
        if not finetune:
            segmenter.encoder.eval()
        loss = F.cross_entropy(segmenter(values, mask)[mask], labels[mask])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate_coin(run_dir: str | Path, root: str | Path, features: str | None = None, mode: str = "linear_probe",
                  seed: int = 0, iterations: int = 300, batch_size: int = 16, lr: float = 1e-3, window: int = 32,
                  train_stride: int = 8, test_stride: int = 16, out: str | Path | None = None,
                  track: bool = False, progress: bool = False) -> dict:
    """Frame accuracy of a classifier on the run's video encoder, trained and tested on COIN at ``root``.

    ``features`` is the feature spec (the run's ``data.features`` when None). Writes ``out``
    (frame accuracy, mode, seed, settings, counts) atomically and logs MLflow job "coin".
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if iterations < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need iterations >= 1, batch_size >= 1 and lr > 0, got {iterations}, {batch_size}, {lr}")
    settings = {"task": "coin", "root": str(root), "mode": mode, "seed": seed, "iterations": iterations,
                "batch_size": batch_size, "lr": lr, "window": window, "train_stride": train_stride,
                "test_stride": test_stride}

    def compute(cfg, model):
        if window > cfg.data.max_video_tokens:
            raise ValueError(f"window of {window} s exceeds the video encoder's {cfg.data.max_video_tokens} positions")
        videos = load_coin(Path(root))
        classes = step_classes(videos)
        store = FeatureStore(root, features or cfg.data.features)
        split = {"train": [], "test": []}
        for video in videos:
            video_features = per_second_features(store, video.video_id)
            split[video.subset].append((video_features, video_labels(video, len(video_features), classes)))
        for name, items in split.items():
            if not items:
                raise ValueError(f"'{root}' has no {name} video")
        torch.manual_seed(seed)
        segmenter = Segmenter(model.video_encoder, len(classes) + 1)
        losses = train_segmenter(segmenter, split["train"], mode, seed, iterations, batch_size, lr, window,
                                 train_stride, progress)
        predictions = [video_logits(segmenter, f, window, test_stride).argmax(axis=1) for f, _ in split["test"]]
        labels = [labels for _, labels in split["test"]]
        accuracy = frame_accuracy(predictions, labels)
        background = frame_accuracy([np.full_like(y, BACKGROUND) for y in labels], labels)
        result = {"frame_accuracy": accuracy, "background_only_accuracy": background,
                  "features": "+".join(store.types), "num_classes": len(classes) + 1,
                  "train_videos": len(split["train"]), "test_videos": len(split["test"]),
                  "train_seconds": sum(len(y) for _, y in split["train"]), "test_seconds": sum(map(len, labels)),
                  "final_loss": losses[-1]}
        return result, {"frame_accuracy": accuracy, "final_loss": losses[-1]}

    return tracked_job("coin", run_dir, settings, compute, out=out, track=track)
