"""Helpers of the CrossTask / COIN model tests: an untrained run directory and feature files."""
from pathlib import Path

import numpy as np
import torch

from taco import config
from taco.features.store import feature_path, write_features
from taco.train import build_model

TINY_MODEL = {"hidden_size": 32, "num_heads": 2, "video_layers": 1, "fusion_layers": 1, "dropout": 0.1}
FEATURE_WIDTHS = {"r152": 8, "s3d_hm": 16}


def save_run(run_dir: Path, cache_dir: Path, max_video_tokens: int = 16, features: str = "r152+s3d_hm",
             video_dim: int = sum(FEATURE_WIDTHS.values()), seed: int = 0, position_std: float | None = None) -> Path:
    """A run directory whose best.pt holds a freshly initialised tiny model (as train() saves it).

    ``position_std`` re-draws the video position embeddings at that scale (BERT initialises them
    with std 0.02; PyTorch's default is 1, which swamps the projected features of an untrained model).
    """
    cfg = config.from_dict({"model": TINY_MODEL, "cache_dir": str(cache_dir), "tags": {"run_name": "tiny"},
                            "data": {"features": features, "max_video_tokens": max_video_tokens}})
    torch.manual_seed(seed)
    model = build_model(cfg, video_dim)
    if position_std is not None:
        torch.nn.init.normal_(model.video_encoder.embed.position.weight, std=position_std)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "step": 0, "video_dim": video_dim},
               run_dir / "best.pt")
    return run_dir


def write_random_features(root: Path, video_ids, seconds: int, seed: int = 0) -> None:
    """r152 (8-d) and s3d_hm (16-d) features of ``seconds`` rows for every video."""
    rng = np.random.default_rng(seed)
    for video_id in video_ids:
        for feature_type, width in FEATURE_WIDTHS.items():
            write_features(feature_path(root, feature_type, video_id), rng.normal(size=(seconds, width)))
