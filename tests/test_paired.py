"""The paired crossed bootstrap (``taco.paired``) against a naive loop and hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from taco import paired
from taco.paired import SeedQueries, paired_difference, paired_ratio_difference
from taco.reports.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, comparison_verdict


def side(values_by_seed: dict[int, np.ndarray], queries: np.ndarray | None = None) -> dict[int, SeedQueries]:
    """Per-seed per-query values under the metric ``v``."""
    return {seed: SeedQueries(np.arange(len(v)) if queries is None else queries, {"v": np.asarray(v, float)})
            for seed, v in values_by_seed.items()}


def v(values):
    return values["v"]


def naive_means(matrix: np.ndarray, seed_weights: np.ndarray, query_weights: np.ndarray) -> np.ndarray:
    """Each resample as explicit index lists (row i drawn count times), then the plain mean of the sub-matrix."""
    out = []
    for w_s, w_q in zip(seed_weights, query_weights):
        rows = np.repeat(np.arange(matrix.shape[0]), w_s)
        cols = np.repeat(np.arange(matrix.shape[1]), w_q)
        out.append(matrix[np.ix_(rows, cols)].mean())
    return np.array(out)


def test_vectorised_means_equal_a_naive_loop_over_the_same_resamples():
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(4, 37))
    seed_weights, (query_weights,) = paired.resample_weights(4, [37], resamples=300, seed=11)
    assert (seed_weights.sum(1) == 4).all() and (query_weights.sum(1) == 37).all()
    np.testing.assert_allclose(paired.weighted_means(matrix, seed_weights, query_weights),
                               naive_means(matrix, seed_weights, query_weights), rtol=0, atol=1e-12)


def test_weights_are_drawn_once_per_shape_as_a_fresh_generator_draws_them_and_are_read_only():
    first = paired.resample_weights(3, [20, 30], resamples=50, seed=7)
    assert paired.resample_weights(3, (20, 30), resamples=50, seed=7)[0] is first[0]
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(first[0], rng.multinomial(3, np.full(3, 1 / 3), size=50))
    np.testing.assert_array_equal(first[1][0], rng.multinomial(20, np.full(20, 1 / 20), size=50))
    np.testing.assert_array_equal(first[1][1], rng.multinomial(30, np.full(30, 1 / 30), size=50))
    with pytest.raises(ValueError, match="read-only"):
        first[1][1][0, 0] = 5


def test_interval_equals_naive_percentiles_and_an_independent_bootstrap():
    rng = np.random.default_rng(0)
    a = {s: rng.normal(50, 20, size=60) + 3 * s for s in range(3)}
    b = {s: a[s] - 2 + rng.normal(0, 10, size=60) for s in range(3)}
    interval = paired_difference(side(a), side(b), v)
    d = np.stack([a[s] - b[s] for s in range(3)])
    # Same resamples, naive loop: the same interval, standard error and estimate.
    seed_weights, (query_weights,) = paired.resample_weights(3, [60])
    naive = naive_means(d, seed_weights, query_weights)
    assert interval.estimate == pytest.approx(d.mean(), abs=1e-12)
    assert (interval.low, interval.high) == pytest.approx(tuple(np.percentile(naive, [2.5, 97.5])), abs=1e-9)
    assert interval.se == pytest.approx(naive.std(ddof=1), abs=1e-9)
    assert (interval.seeds, interval.queries) == (3, 60)
    # An independent bootstrap drawing index lists from another generator agrees up to Monte Carlo error.
    other = np.random.default_rng(123)
    draws = [d[np.ix_(other.integers(0, 3, 3), other.integers(0, 60, 60))].mean() for _ in range(4000)]
    low, high = np.percentile(draws, [2.5, 97.5])
    width = high - low
    assert abs(interval.low - low) < 0.1 * width and abs(interval.high - high) < 0.1 * width
    # Fixed generator seed: identical inputs give identical intervals.
    assert paired_difference(side(a), side(b), v) == interval


def test_identical_rows_are_inconclusive_and_a_constant_shift_is_exact():
    rng = np.random.default_rng(1)
    a = {s: rng.integers(0, 300, size=25).astype(float) for s in range(3)}   # exact sums
    same = paired_difference(side(a), side(a), v)
    assert same.low <= 0 <= same.high and comparison_verdict(same) == INCONCLUSIVE
    shifted = {s: values + 10 for s, values in a.items()}
    up = paired_difference(side(shifted), side(a), v)
    assert (up.estimate, up.low, up.high, up.se, up.mde) == (10.0, 10.0, 10.0, 0.0, 0.0)
    assert comparison_verdict(up) == REPRODUCED
    assert comparison_verdict(paired_difference(side(a), side(shifted), v)) == NOT_REPRODUCED
    # Lower is better (ranks): the sign flips.
    down = paired_difference(side(shifted), side(a), v, higher=False)
    assert (down.low, down.high) == (-10.0, -10.0) and comparison_verdict(down) == NOT_REPRODUCED


def test_pairs_on_common_seeds_and_common_queries_in_any_order():
    # A has seeds 0-2 and queries 0-5; B has seeds 1-3 and queries 2-7, stored in another order.
    a = side({s: np.arange(6) * 10.0 + s for s in (0, 1, 2)})
    b_queries = np.array([7, 2, 6, 3, 5, 4])
    b = side({s: b_queries * 1.0 for s in (1, 2, 3)}, queries=b_queries)
    interval = paired_difference(a, b, v)
    assert (interval.seeds, interval.queries) == (2, 4)
    # Queries 2..5: A = 10 q + s, B = q, so d = 9 q + s; mean over q in 2..5 and s in {1, 2}.
    assert interval.estimate == pytest.approx(9 * 3.5 + 1.5)
    assert paired_difference(a, side({9: np.arange(6)}), v) is None                      # no common seed
    assert paired_difference(a, side({0: [1.0]}, queries=np.array([40])), v) is None      # no common query


def test_minimum_detectable_effect_is_2_8_standard_errors():
    rng = np.random.default_rng(2)
    d = rng.normal(0, 12, size=400)
    interval = paired_difference(side({0: d}), side({0: np.zeros(400)}), v)
    assert interval.mde == pytest.approx(2.8 * interval.se)
    # One seed: only queries vary, so the standard error is about sd / sqrt(n).
    assert interval.se == pytest.approx(d.std(ddof=1) / np.sqrt(400), rel=0.08)


def test_ratio_of_means_is_paired_and_exact_for_proportional_rows():
    rng = np.random.default_rng(3)
    den_a = {s: rng.uniform(10, 100, size=30) for s in range(3)}
    den_b = {s: rng.uniform(10, 100, size=50) for s in range(3)}
    num_a = {s: 0.8 * x for s, x in den_a.items()}
    num_b = {s: 0.5 * x for s, x in den_b.items()}
    interval = paired_ratio_difference(side(num_a), side(den_a), side(num_b), side(den_b), v)
    assert (interval.estimate, interval.low, interval.high) == pytest.approx((0.3, 0.3, 0.3), abs=1e-12)
    assert (interval.seeds, interval.queries) == (3, 30)
    # Not proportional: the bootstrap ratio is the ratio of the resampled means (naive loop, same weights).
    num_a = {s: x + rng.normal(0, 20, size=30) for s, x in num_a.items()}
    interval = paired_ratio_difference(side(num_a), side(den_a), side(num_b), side(den_b), v)
    seed_weights, (w_a, w_b) = paired.resample_weights(3, [30, 50])
    m = [naive_means(np.stack(list(x.values())), seed_weights, w) for x, w in
         ((num_a, w_a), (den_a, w_a), (num_b, w_b), (den_b, w_b))]
    ratios = m[0] / m[1] - m[2] / m[3]
    assert (interval.low, interval.high) == pytest.approx(tuple(np.percentile(ratios, [2.5, 97.5])), abs=1e-9)
    point = (np.mean(list(num_a.values())) / np.mean(list(den_a.values())) - 0.5)
    assert interval.estimate == pytest.approx(point)
    assert paired_ratio_difference(side(num_a), side(den_a), side({7: [1.0]}), side(den_b), v) is None
