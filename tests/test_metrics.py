import itertools
import math

import numpy as np
import pytest

from taco.metrics import retrieval_metrics, summarize_over_seeds


def peer_compute_metrics(x: np.ndarray) -> dict[str, float]:
    """Reference: the UniVL / MIL-NCE protocol as docs/data_formats.md describes it (positives on the diagonal).

    rank = 0-based position of the diagonal entry in its row sorted descending;
    R@K = mean(rank < K); MR = median(rank) + 1; mean rank = mean(rank) + 1.
    """
    ranks = []
    for i, row in enumerate(x):
        order = np.argsort(-row, kind="stable")
        ranks.append(int(np.flatnonzero(order == i)[0]))
    ranks = np.array(ranks)
    out = {f"r{k}": 100.0 * float(np.mean(ranks < k)) for k in (1, 5, 10, 50)}
    out["mr"] = float(np.median(ranks)) + 1
    out["mean_r"] = float(np.mean(ranks)) + 1
    return out


def naive_expected_metrics(column_scores: np.ndarray, is_positive: np.ndarray, ks) -> tuple[list, list]:
    """Per query, enumerate every order of the items tied at the best positive score.

    Returns per-query (expected rank, [P(rank <= k) for k in ks]) by brute force over permutations.
    """
    best = column_scores[is_positive].max()
    above = int(np.sum(column_scores > best))
    tied_labels = list(is_positive[column_scores == best])
    ranks = []
    for order in itertools.permutations(tied_labels):
        ranks.append(above + 1 + order.index(True))
    ranks = np.array(ranks, dtype=float)
    return float(ranks.mean()), [float(np.mean(ranks <= k)) for k in ks]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tie_free_equals_peer_compute_metrics(seed):
    rng = np.random.default_rng(seed)
    n = 60
    scores = rng.normal(size=(n, n))
    scores[np.arange(n), np.arange(n)] += rng.uniform(0, 3, size=n)  # a realistic, non-trivial retrieval
    got = retrieval_metrics(scores, np.arange(n))
    for direction, matrix in (("t2v", scores), ("v2t", scores.T)):
        expected = peer_compute_metrics(matrix)
        for name, value in expected.items():
            assert got[f"{direction}_{name}"] == pytest.approx(value, abs=1e-9), (direction, name)


@pytest.mark.parametrize("n", [7, 20])
def test_constant_scores_give_chance_level(n):
    got = retrieval_metrics(np.full((n, n), 0.3), np.arange(n), ks=(1, 5, 10))
    for direction in ("t2v", "v2t"):
        for k in (1, 5, 10):
            assert got[f"{direction}_r{k}"] == pytest.approx(100.0 * min(k, n) / n)
        assert got[f"{direction}_mr"] == pytest.approx((n + 1) / 2)
        assert got[f"{direction}_mean_r"] == pytest.approx((n + 1) / 2)


def test_hand_computed_ties_single_caption():
    # 3 texts, 4 videos; video 3 has no caption (candidate for t2v, never a v2t query).
    scores = np.array(
        [
            [0.5, 0.9, 0.5, 0.5],  # text 0 -> video 0: g=1 (0.9), t=2 tied negatives, rank 2,3,4 each 1/3
            [0.1, 0.8, 0.2, 0.3],  # text 1 -> video 1: rank 1
            [0.7, 0.7, 0.7, 0.7],  # text 2 -> video 2: g=0, t=3, rank 1..4 each 1/4
        ]
    )
    got = retrieval_metrics(scores, np.array([0, 1, 2]), ks=(1, 2, 3, 5))
    # t2v R@1 = (0 + 1 + 1/4) / 3;  R@2 = (1/3 + 1 + 2/4) / 3;  R@3 = (2/3 + 1 + 3/4) / 3;  R@5 = 1
    assert got["t2v_r1"] == pytest.approx(100 * 1.25 / 3)
    assert got["t2v_r2"] == pytest.approx(100 * (1 / 3 + 1 + 0.5) / 3)
    assert got["t2v_r3"] == pytest.approx(100 * (2 / 3 + 1 + 0.75) / 3)
    assert got["t2v_r5"] == pytest.approx(100.0)
    # expected ranks: 1 + 1 + 2/2 = 3;  1;  0 + 1 + 3/2 = 2.5  -> median 2.5, mean 6.5/3
    assert got["t2v_mr"] == pytest.approx(2.5)
    assert got["t2v_mean_r"] == pytest.approx(6.5 / 3)
    # v2t columns: video 0 [0.5, 0.1, 0.7] -> rank 2; video 1 [0.9, 0.8, 0.7] -> rank 2;
    # video 2 [0.5, 0.2, 0.7] -> rank 1.  R@1 = 1/3, R@2 = 1, MR = 2, mean 5/3.
    assert got["v2t_r1"] == pytest.approx(100 / 3)
    assert got["v2t_r2"] == pytest.approx(100.0)
    assert got["v2t_mr"] == pytest.approx(2.0)
    assert got["v2t_mean_r"] == pytest.approx(5 / 3)


def test_hand_computed_multi_caption():
    scores = np.array(
        [
            [0.6, 0.1],  # text 0 -> video 0
            [0.9, 0.9],  # text 1 -> video 0
            [0.9, 0.2],  # text 2 -> video 0
            [0.9, 0.5],  # text 3 -> video 1
        ]
    )
    got = retrieval_metrics(scores, np.array([0, 0, 0, 1]), ks=(1, 2))
    # v2t (CLIP4Clip: each video once, by its best caption). Video 0: video 0 scores max(0.6, 0.9, 0.9)
    #   = 0.9, video 1 scores 0.9 (text 3): one tied negative, E[rank] = 1.5, P(rank 1) = 1/2.
    # Video 1: video 1 scores 0.5, video 0 max(0.1, 0.9, 0.2) = 0.9: rank 2.
    assert got["v2t_r1"] == pytest.approx(100 * (1 / 2 + 0) / 2)
    assert got["v2t_r2"] == pytest.approx(100.0)
    assert got["v2t_mr"] == pytest.approx((1.5 + 2) / 2)
    assert got["v2t_mean_r"] == pytest.approx((1.5 + 2) / 2)
    # t2v: ranks 1, 1.5 (tie of two videos), 1, 2 -> R@1 = (1 + 0.5 + 1 + 0) / 4; MR = 1.25; mean 5.5/4
    assert got["t2v_r1"] == pytest.approx(62.5)
    assert got["t2v_mr"] == pytest.approx(1.25)
    assert got["t2v_mean_r"] == pytest.approx(5.5 / 4)


@pytest.mark.parametrize("seed", range(4))
def test_ties_match_enumeration_over_all_orders(seed):
    rng = np.random.default_rng(seed)
    num_texts, num_videos = 9, 5
    scores = rng.integers(0, 3, size=(num_texts, num_videos)).astype(float)  # many ties
    text_to_video = rng.integers(0, num_videos - 1, size=num_texts)  # video 4 never captioned
    ks = (1, 2, 3)
    got = retrieval_metrics(scores, text_to_video, ks=ks)

    def summarize(per_query):
        ranks = np.array([rank for rank, _ in per_query])
        out = {f"r{k}": 100 * np.mean([hits[i] for _, hits in per_query]) for i, k in enumerate(ks)}
        out.update(mr=np.median(ranks), mean_r=np.mean(ranks))
        return out

    t2v = [naive_expected_metrics(scores[i], np.arange(num_videos) == text_to_video[i], ks) for i in range(num_texts)]
    captioned = sorted(set(text_to_video))

    def best_caption(u, v):  # CLIP4Clip's video-to-text similarity: video u's best caption for video v
        return max(scores[i, v] for i in range(num_texts) if text_to_video[i] == u)

    v2t = [naive_expected_metrics(np.array([best_caption(u, v) for u in captioned]), np.array(captioned) == v, ks)
           for v in captioned]
    for direction, per_query in (("t2v", t2v), ("v2t", v2t)):
        for name, value in summarize(per_query).items():
            assert got[f"{direction}_{name}"] == pytest.approx(value), (direction, name)


def test_invariant_to_strictly_increasing_transform():
    rng = np.random.default_rng(5)
    scores = rng.integers(-3, 4, size=(30, 12)).astype(np.float64)
    text_to_video = rng.integers(0, 12, size=30)
    base = retrieval_metrics(scores, text_to_video)
    transformed = retrieval_metrics(np.exp(scores / 2.0) * 10 + 1, text_to_video)
    assert transformed == pytest.approx(base)


def test_expected_keys_in_percent_and_ranks_one_based():
    got = retrieval_metrics(np.eye(4), np.arange(4))
    assert set(got) == {f"{d}_{m}" for d in ("t2v", "v2t") for m in ("r1", "r5", "r10", "r50", "mr", "mean_r")}
    assert got["t2v_r1"] == 100.0 and got["t2v_mr"] == 1.0 and got["v2t_mean_r"] == 1.0


@pytest.mark.parametrize(
    "scores, text_to_video, ks, message",
    [
        (np.array([[0.1, np.nan], [np.inf, 0.2]]), np.array([0, 1]), (1,), "2 NaN or infinite"),
        (np.zeros(3), np.array([0, 1, 2]), (1,), "shape"),
        (np.zeros((3, 2)), np.array([0, 1]), (1,), "one entry per text"),
        (np.zeros((2, 2)), np.array([0, 2]), (1,), r"text_to_video\[1\] = 2"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), (1,), "integer"),
        (np.zeros((2, 2)), np.array([0, 1]), (0,), "positive integers"),
    ],
)
def test_bad_input_raises_clear_error(scores, text_to_video, ks, message):
    with pytest.raises(ValueError, match=message):
        retrieval_metrics(scores, text_to_video, ks=ks)


def test_summarize_over_seeds():
    mean, std = summarize_over_seeds([1.0, 2.0, 3.0, 4.0])
    assert mean == pytest.approx(2.5)
    assert std == pytest.approx(math.sqrt((1.5**2 + 0.5**2 + 0.5**2 + 1.5**2) / 3))  # sample std, ddof=1
    assert summarize_over_seeds([7.5]) == (7.5, 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        summarize_over_seeds([])


def test_per_query_values_average_to_the_text_to_video_metrics():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=(12, 5)), 1)  # rounded: ties occur
    text_to_video = rng.integers(0, 5, size=12)
    metrics, queries = retrieval_metrics(scores, text_to_video, per_query=True)
    assert metrics == retrieval_metrics(scores, text_to_video)
    for k in (1, 5, 10, 50):
        assert queries[f"r{k}"].shape == (12,)
        assert math.isclose(queries[f"r{k}"].mean(), metrics[f"t2v_r{k}"], abs_tol=1e-9)
    assert math.isclose(np.median(queries["rank"]), metrics["t2v_mr"])


def test_per_query_hand_computed_with_a_tie():
    # Query 0: its video ranks 2nd (one score above). Query 1: tied with one negative at the top.
    scores = np.array([[0.2, 0.9, 0.1], [0.5, 0.5, 0.0]])
    _, queries = retrieval_metrics(scores, np.array([0, 1]), ks=(1, 5), per_query=True)
    np.testing.assert_allclose(queries["r1"], [0.0, 50.0])
    np.testing.assert_allclose(queries["r5"], [100.0, 100.0])
    np.testing.assert_allclose(queries["rank"], [2.0, 1.5])
