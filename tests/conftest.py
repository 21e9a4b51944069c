import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

# Tests share two CPU cores with nothing else to gain from threads; keep them deterministic.
torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def write_tiny_youcook2(root, train_videos=10, test_videos=4, clips_per_video=4, seed=0):
    """A YouCook2-format release with random r152/s3d_hm features, for trainer and CLI tests."""
    import json

    import numpy as np
    from fixtures_formats import write_youcook2

    from taco.features.store import feature_path, write_features

    root = Path(root)
    write_youcook2(root, train_videos=train_videos, test_videos=test_videos, clips_per_video=clips_per_video)
    database = json.loads((root / "youcookii_annotations_trainval.json").read_text())["database"]
    rng = np.random.default_rng(seed)
    for video_id, item in sorted(database.items()):
        seconds = int(np.ceil(item["duration"]))
        write_features(feature_path(root, "s3d_hm", video_id), rng.normal(size=(seconds, 16)))
        write_features(feature_path(root, "r152", video_id), rng.normal(size=(seconds, 8)))
    return root


TINY_RUN = {
    "model": {"hidden_size": 32, "num_heads": 2, "video_layers": 1, "fusion_layers": 1},
    "optim": {"iterations": 12, "batch_size": 8, "warmup": 2, "eval_every": 6, "checkpoint_every": 4},
    "eval": {"rerank_k": 5},
}


@pytest.fixture(scope="session")
def tiny_youcook2(tmp_path_factory):
    return write_tiny_youcook2(tmp_path_factory.mktemp("tiny_youcook2"))


@pytest.fixture
def tiny_config(tiny_youcook2, tmp_path_factory):
    """Values of a tiny frozen-text run on ``tiny_youcook2`` (a shared text cache across tests)."""
    cache = tmp_path_factory.getbasetemp() / "text_cache"
    return {**TINY_RUN, "data": {"dataset": "youcook2", "root": str(tiny_youcook2), "features": "r152+s3d_hm",
                                 "val_fraction": 0.2}, "cache_dir": str(cache)}
