"""Training features preloaded once per job: batches equal the per-item reads exactly."""
import logging

import numpy as np
import pytest
import torch

from taco import config
from taco.data import retrieval
from taco.data.retrieval import RaggedRows, RetrievalData
from taco.features.store import pad_batch


def test_ragged_rows_pad_like_pad_batch_and_keep_float32_only_when_float16_is_not_exact():
    rng = np.random.default_rng(0)
    exact = [rng.normal(size=(n, 3)).astype(np.float16).astype(np.float32) for n in (4, 1, 3)]
    inexact = [rng.normal(size=(n, 3)).astype(np.float32) for n in (2, 5)]
    stored_half = [item.astype(np.float16) for item in exact]  # joined as they are
    for items, dtype, reference in ((exact, torch.float16, exact), (inexact, torch.float32, inexact),
                                    (stored_half, torch.float16, exact)):
        rows = RaggedRows(items)
        assert rows.rows.dtype == dtype
        for index in ([0, 1], [1], [1, 0, 0], list(range(len(items)))[::-1]):
            values, mask = rows.batch(index)
            expected, expected_mask = pad_batch([reference[i] for i in index])
            assert torch.equal(mask, expected_mask) and torch.equal(values, expected)


@pytest.mark.parametrize("text_mode", ["frozen", "finetune"])
def test_preloaded_training_batches_equal_the_per_item_reads(tiny_config, monkeypatch, caplog, text_mode):
    cfg = config.from_dict({**tiny_config, "model": {**tiny_config["model"], "text_mode": text_mode}})
    preloaded = RetrievalData(cfg)
    assert preloaded.preloaded_train is not None
    monkeypatch.setattr(retrieval, "PRELOAD_LIMIT_BYTES", 0)
    per_item = RetrievalData(cfg)
    with caplog.at_level(logging.INFO, logger="taco.data"):
        assert per_item.preloaded_train is None
    assert "read per batch" in caplog.text
    items = len(per_item.splits["train"])
    rng = np.random.default_rng(0)
    for indices in (np.arange(items), rng.choice(items, 8, replace=False), [3, 3, 0]):
        fast, plain = preloaded.train_batch(indices), per_item.train_batch(indices)
        assert fast.keys() == plain.keys()
        for key in plain:
            assert fast[key].dtype == plain[key].dtype and torch.equal(fast[key], plain[key]), key
