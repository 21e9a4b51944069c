"""Text-video retrieval metrics in both directions: Recall@K, median rank and mean rank.

The paper (section 4.3, "Evaluation metrics") reports Recall@n and Median Rank following UniVL
and MIL-NCE. Without ties the numbers equal the peers' ``compute_metrics``. Unlike the peers,
ties are never resolved in the query's favour or counted as extra entries: a positive tied with
negatives gets the exact expectation of its rank under a uniformly random order of the tied items.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10, 50)


def retrieval_metrics(
    scores: np.ndarray, text_to_video: np.ndarray, ks: Sequence[int] = DEFAULT_KS, per_query: bool = False
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """Text-to-video and video-to-text Recall@K (percent), median and mean rank (1-based).

    ``scores`` is (num_texts, num_videos), higher is better; ``text_to_video[i]`` is the index of
    the one video described by text ``i`` (a video may have several captions). A text query's
    positive is its video. A video query (every video with at least one caption) ranks the videos
    with captions, each once by its best-scoring caption, as CLIP4Clip's multi-caption video-to-text
    evaluation does (every caption of every other video is not a separate competitor).

    With ``per_query`` it also returns each text query's text-to-video values (``r<K>`` in percent and
    its expected ``rank``), whose means are the ``t2v_`` metrics: the unit of paired comparisons.
    """
    scores, text_to_video, ks = _validate(scores, text_to_video, ks)
    num_texts, num_videos = scores.shape
    positive_scores = scores[np.arange(num_texts), text_to_video]

    # Text queries: one positive per query.
    t2v_above = (scores > positive_scores[:, None]).sum(axis=1)
    t2v_tied = (scores == positive_scores[:, None]).sum(axis=1) - 1
    t2v_queries = _per_query_ranks(t2v_above, t2v_tied, np.ones(num_texts, dtype=np.int64), ks)
    t2v = _summarize(t2v_queries, ks)

    # Video queries: candidate video u scores best_caption[u, v] = max over u's captions of scores[:, v].
    best_caption = np.full((num_videos, num_videos), -np.inf)
    np.maximum.at(best_caption, text_to_video, scores)
    queried = np.unique(text_to_video)
    columns = best_caption[:, queried]
    own = best_caption[queried, queried]
    v2t_above = (columns > own[None, :]).sum(axis=0)
    v2t_tied = (columns == own[None, :]).sum(axis=0) - 1
    v2t = _summarize(_per_query_ranks(v2t_above, v2t_tied, np.ones(len(queried), dtype=np.int64), ks), ks)

    metrics = {f"t2v_{name}": value for name, value in t2v.items()}
    metrics.update({f"v2t_{name}": value for name, value in v2t.items()})
    return (metrics, t2v_queries) if per_query else metrics


def _summarize(queries: dict[str, np.ndarray], ks: tuple[int, ...]) -> dict[str, float]:
    """Recall@K (mean over queries), median and mean of the expected ranks."""
    metrics = {f"r{k}": float(np.mean(queries[f"r{k}"])) for k in ks}
    metrics["mr"] = float(np.median(queries["rank"]))
    metrics["mean_r"] = float(np.mean(queries["rank"]))
    return metrics


def _per_query_ranks(
    above: np.ndarray, tied_negatives: np.ndarray, tied_positives: np.ndarray, ks: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Each query's expected Recall@K (percent) and expected rank from its tie counts.

    Per query: g = ``above`` negatives strictly above the best positive score, t = ``tied_negatives``
    negatives and p = ``tied_positives`` positives at that score. The first positive's rank is
    g + r with P(r > k) = C(t, k) / C(t + p, k); its expectation is g + 1 + t / (p + 1).
    """
    g = above.astype(np.float64)
    t = tied_negatives.astype(np.float64)
    p = tied_positives.astype(np.float64)

    # survival[k] = P(r > k) = prod_{j<k} (t - j) / (t + p - j); zero once k exceeds t.
    max_k = max(ks)
    survival = np.ones((max_k + 1, len(g)))
    for j in range(max_k):
        remaining = t - j
        factor = np.where(remaining > 0, remaining / np.maximum(remaining + p, 1.0), 0.0)
        survival[j + 1] = survival[j] * factor

    query_index = np.arange(len(g))
    queries = {f"r{k}": 100.0 * (1.0 - survival[np.maximum(k - above, 0), query_index]) for k in ks}
    queries["rank"] = g + 1.0 + t / (p + 1.0)
    return queries


def _validate(
    scores: np.ndarray, text_to_video: np.ndarray, ks: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty (num_texts, num_videos) matrix, got shape {scores.shape}")
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype, np.complexfloating):
        raise ValueError(f"scores must be real numbers, got dtype {scores.dtype}")
    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad:
        raise ValueError(f"scores contain {bad} NaN or infinite entries out of {scores.size}")
    text_to_video = np.asarray(text_to_video)
    if text_to_video.shape != (scores.shape[0],):
        raise ValueError(
            f"text_to_video must have one entry per text ({scores.shape[0]}), got shape {text_to_video.shape}"
        )
    if not np.issubdtype(text_to_video.dtype, np.integer):
        raise ValueError(f"text_to_video must hold integer video indices, got dtype {text_to_video.dtype}")
    out_of_range = np.flatnonzero((text_to_video < 0) | (text_to_video >= scores.shape[1]))
    if out_of_range.size:
        i = int(out_of_range[0])
        raise ValueError(
            f"text_to_video[{i}] = {int(text_to_video[i])} is not a video index in [0, {scores.shape[1]})"
        )
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks}")
    return scores, text_to_video.astype(np.int64), tuple(int(k) for k in ks)


def summarize_over_seeds(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of a metric over seeds; std is 0.0 for one seed."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"summarize_over_seeds needs a non-empty list of numbers, got {values.size} values")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"summarize_over_seeds got non-finite values: {values.tolist()}")
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return float(np.mean(values)), std
