"""A model-free difficulty probe of a retrieval dataset: ridge regression from a caption's bag of
words to its clip's mean feature, then cosine text-to-video retrieval on the test split.

It calibrates the synthetic world before any model exists (docs/synthetic_world.md) and works on
any release folder the loaders read, real or synthetic. It is deliberately weak: no word order, no
temporal structure, no learned video encoder.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from taco.config import RunConfig
from taco.data.loaders import load_clips
from taco.data.records import Clip
from taco.features.store import FeatureStore
from taco.metrics import retrieval_metrics

RIDGE_PENALTY = 1.0
MIN_WORD_COUNT = 2  # words seen fewer times in training are dropped from the bag
PROBE_SCORE = "probe"
"""The score name of the probe's results (``probe/t2v_r1``, ``per_query["probe"]``)."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _bag_of_words(texts: list[str], index: dict[str, int]) -> np.ndarray:
    """Binary (texts, vocabulary + 1) matrix; the last column is a constant bias."""
    bag = np.zeros((len(texts), len(index) + 1))
    bag[:, -1] = 1.0
    for row, text in enumerate(texts):
        for word in _words(text):
            if word in index:
                bag[row, index[word]] = 1.0
    return bag


def _mean_features(store: FeatureStore, clips: list[Clip]) -> np.ndarray:
    """Each clip's rows averaged and L2-normalised; clips of one segment share one row."""
    rows = []
    for clip in clips:
        mean = store.clip(clip.video_id, clip.start, clip.end, max_tokens=10**6).mean(axis=0)
        rows.append(mean / max(np.linalg.norm(mean), 1e-12))
    return np.asarray(rows)


def probe_clips(train: list[Clip], train_root: str | Path, test: list[Clip], root: str | Path,
                feature_type: str) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Fit the probe on ``train`` clips (features under ``train_root``) and retrieve among ``test``'s
    segments (features under ``root``): text-to-video metrics without the ``t2v_`` prefix, and each
    test caption's per-query values (``retrieval_metrics(per_query=True)``), in ``test`` order."""
    if not train or not test:
        raise ValueError(f"the probe needs train and test clips (found {len(train)} train, {len(test)} test)")
    counts: dict[str, int] = {}
    for clip in train:
        for word in set(_words(clip.text)):
            counts[word] = counts.get(word, 0) + 1
    index = {w: i for i, w in enumerate(sorted(w for w, n in counts.items() if n >= MIN_WORD_COUNT))}
    bag = _bag_of_words([c.text for c in train], index)
    target = _mean_features(FeatureStore(train_root, feature_type), train)
    weights = np.linalg.solve(bag.T @ bag + RIDGE_PENALTY * np.eye(bag.shape[1]), bag.T @ target)

    segments = list(dict.fromkeys(c.segment for c in test))
    position = {segment: i for i, segment in enumerate(segments)}
    first_clip = {}
    for clip in test:
        first_clip.setdefault(clip.segment, clip)
    videos = _mean_features(FeatureStore(root, feature_type), [first_clip[s] for s in segments])
    predicted = _bag_of_words([c.text for c in test], index) @ weights
    predicted /= np.maximum(np.linalg.norm(predicted, axis=1, keepdims=True), 1e-12)
    scores = predicted @ videos.T
    metrics, per_query = retrieval_metrics(scores, np.array([position[c.segment] for c in test]), per_query=True)
    return {key.removeprefix("t2v_"): value for key, value in metrics.items() if key.startswith("t2v_")}, per_query


def probe_retrieval(root: str | Path, dataset: str, feature_type: str, *, train_root: str | Path | None = None,
                    train_dataset: str | None = None) -> dict[str, float]:
    """Text-to-video R@1/R@5/R@10/R@50 (percent), median and mean rank of the bag-of-words ridge
    probe on ``dataset``'s test split, with ``feature_type`` features (one type or a '+' combination).

    The probe is fitted on the same dataset's train split, or, to measure a domain gap ("zero-shot"),
    on the train split of ``train_dataset`` under ``train_root`` (e.g. HowTo100M narrations).
    """
    clips = load_clips(dataset, Path(root))
    test = [c for c in clips if c.split == "test"]
    if train_dataset is None:
        train_root, train = root, [c for c in clips if c.split == "train"]
    else:
        train = [c for c in load_clips(train_dataset, Path(train_root)) if c.split == "train"]
    return probe_clips(train, train_root, test, root, feature_type)[0]


def probe_run(test_cfg: RunConfig, train_cfg: RunConfig) -> dict:
    """The probe on the test split a run with ``test_cfg`` is scored on (same clips, same query order),
    fitted on ``train_cfg``'s train split, with ``test_cfg``'s features: the JSON of ``python -m taco
    probe``, shaped like a run's results (score ``probe``; ``queries``: every test caption)."""
    from taco.data.retrieval import split_clips   # imports torch: only the pipeline's probe needs it

    test = split_clips(test_cfg)["test"]
    metrics, per_query = probe_clips(split_clips(train_cfg)["train"], train_cfg.data.root, test, test_cfg.data.root,
                                     test_cfg.data.features)
    return {"dataset": test_cfg.data.dataset, "root": test_cfg.data.root, "features": test_cfg.data.features,
            "train_dataset": train_cfg.data.dataset, "train_root": train_cfg.data.root,
            "metrics": {f"{PROBE_SCORE}/t2v_{key}": value for key, value in metrics.items()},
            "per_query": {PROBE_SCORE: {key: np.round(values, 4).tolist() for key, values in per_query.items()}},
            "queries": list(range(len(test)))}
