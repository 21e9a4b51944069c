"""What the downstream tasks of paper 5.2 (CrossTask, COIN) share: per-second video features, the
video encoder over a whole video, and a tracked job around a trained run's best.pt."""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from taco.atomic import write_json
from taco.features.store import FeatureError, FeatureStore, feature_path, pad_batch
from taco.tracking import Tracker
from taco.train import load_run


def per_second_features(store: FeatureStore, video_id: str) -> np.ndarray:
    """Float32 (T, D) features of a whole video, one row per second (both tasks label seconds).

    At 1 row/s (R-152, S3D first in the spec) these are the store's rows; at another rate the row
    whose interval holds each second's centre, ``int((t + 0.5) * rate)``, over ``ceil(rows / rate)`` s.
    """
    rows = store.video(video_id)
    if store.rate != 1.0:
        seconds = math.ceil(round(len(rows) / store.rate, 6))
        rows = rows[np.minimum(((np.arange(seconds) + 0.5) * store.rate).astype(np.int64), len(rows) - 1)]
    features = np.asarray(rows, dtype=np.float32)
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise FeatureError(f"video '{video_id}' ('{feature_path(store.root, store.types[0], video_id)}'): "
                           f"second {int(np.argmax(bad))} holds NaN or inf")
    return features


def encoding_windows(num_seconds: int, max_tokens: int) -> list[tuple[int, int]]:
    """``[start, end)`` seconds of the fewest near-equal consecutive windows of at most ``max_tokens``
    seconds covering the video (the encoder's position limit); one window when it fits."""
    if num_seconds < 1 or max_tokens < 1:
        raise ValueError(f"need num_seconds >= 1 and max_tokens >= 1, got {num_seconds}, {max_tokens}")
    count = math.ceil(num_seconds / max_tokens)
    bounds = [round(i * num_seconds / count) for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


@torch.no_grad()
def encode_per_second(model, features: np.ndarray, max_tokens: int) -> torch.Tensor:
    """(T, d) video encoder outputs of a whole video, encoded in ``encoding_windows`` (one batch)."""
    model.eval()
    windows = encoding_windows(len(features), max_tokens)
    values, mask = pad_batch([features[start:end] for start, end in windows])
    tokens = model.encode_video(values, mask).float()
    return torch.cat([tokens[i, :end - start] for i, (start, end) in enumerate(windows)])


def tracked_job(job: str, run_dir: str | Path, settings: dict,
                compute: Callable[..., tuple[dict, dict[str, float]]],
                out: str | Path | None = None, track: bool = False) -> dict:
    """Load a run's best.pt, run ``compute(cfg, model) -> (result, metrics)`` as MLflow job ``job``
    (tags: the run's config tags, its config hash, ``task=job``, the job's seed), write
    ``{run, config_hash, **settings, **result}`` to ``out`` atomically and return it."""
    cfg, model = load_run(run_dir, [])
    tags = {**cfg.tags, "config_hash": cfg.hash(), "train_seed": cfg.optim.seed, "seed": settings.get("seed"),
            "pretrain_dataset": cfg.data.dataset, "task": job, "run_dir": str(run_dir),
            "run_name": f"{cfg.tags.get('run_name', run_dir)} {job}"}
    tracker = Tracker(None, {**cfg.to_dict(), job: settings}, tags, enabled=track, job=job)
    tracker.start()
    try:
        result, metrics = compute(cfg, model)
        result = {"run": str(run_dir), "config_hash": cfg.hash(), **settings, **result}
        if out is not None:
            write_json(out, result, indent=2, sort_keys=True)
        tracker.log_metrics({f"{job}/{key}": value for key, value in metrics.items()})
    except BaseException:
        tracker.finish("FAILED")
        raise
    tracker.finish()
    return result
