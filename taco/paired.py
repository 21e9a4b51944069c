"""Paired bootstrap of a difference between two models measured on the same test queries over seeds.

Two rows are paired by seed (the seeds both have) and by test query (the queries every paired seed of
both evaluated). Their per-query values give a seeds x queries matrix of differences ``d[s, q]``; the
estimate is its mean. The 95 % interval is a crossed (two-way) bootstrap: seeds and queries are
resampled independently with replacement (multinomial count weights, vectorised), so both the
seed-to-seed and the query-to-query variation widen it. The generator has a fixed seed: identical
inputs give identical intervals. A comparison's minimum detectable effect is ``MDE_FACTOR`` bootstrap
standard errors (two-sided 5 % test at 80 % power: 1.96 + 0.84).

A ratio claim compares two ratios of means (e.g. zero-shot over finetuned, on two datasets): seeds
are shared by all four rows, queries by the two rows of each ratio; the same resampled weights give
each bootstrap ratio.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce

import numpy as np

RESAMPLES = 2000
RNG_SEED = 0
MDE_FACTOR = 2.8
LEVEL = 0.95


@dataclass(frozen=True)
class SeedQueries:
    """One seed of one row: the test query indices it evaluated and, per metric, one value per query."""

    queries: np.ndarray
    values: Mapping[str, np.ndarray]


PerSeed = Mapping[int, SeedQueries]
"""seed -> per-query values of one row."""
Value = Callable[[Mapping[str, np.ndarray]], np.ndarray]
"""The per-query quantity compared, from a seed's per-metric arrays (e.g. R@1 + R@5 + R@10)."""


@dataclass(frozen=True)
class Interval:
    """A bootstrapped statistic: point estimate, 95 % percentile interval, standard error, sample sizes."""

    estimate: float
    low: float
    high: float
    se: float
    seeds: int
    queries: int

    @property
    def mde(self) -> float:
        """Minimum detectable effect: the true difference found with 80 % power by a two-sided 5 % test."""
        return MDE_FACTOR * self.se


def resample_weights(n_seeds: int, query_counts: Sequence[int], resamples: int = RESAMPLES,
                     seed: int = RNG_SEED) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Bootstrap count weights: (resamples, n_seeds) for the seeds, and (resamples, n) per query group.
    A function of its arguments alone: drawn once per process for each shape (a report's comparisons
    share a few shapes) and returned read-only."""
    return _drawn_weights(n_seeds, tuple(query_counts), resamples, seed)


@lru_cache(maxsize=16)
def _drawn_weights(n_seeds: int, query_counts: tuple[int, ...], resamples: int,
                   seed: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    seed_weights = rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=resamples)
    query_weights = tuple(rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) for n in query_counts)
    for weights in (seed_weights, *query_weights):
        weights.setflags(write=False)
    return seed_weights, query_weights


def weighted_means(matrix: np.ndarray, seed_weights: np.ndarray, query_weights: np.ndarray) -> np.ndarray:
    """The mean of a (seeds, queries) matrix under each resample's count weights."""
    total = seed_weights.sum(axis=1) * query_weights.sum(axis=1)
    return ((seed_weights @ matrix) * query_weights).sum(axis=1) / total


def bootstrap(groups: Sequence[Sequence[np.ndarray]], statistic: Callable[[list], np.ndarray | float],
              resamples: int = RESAMPLES, seed: int = RNG_SEED) -> Interval:
    """Crossed bootstrap of ``statistic`` of the means of (seeds, queries) matrices. All matrices share
    the seed axis; those of one group share the query axis. ``statistic`` maps the list of means (in
    group order) to the statistic, elementwise over resamples."""
    n_seeds = groups[0][0].shape[0]
    seed_weights, query_weights = resample_weights(n_seeds, [g[0].shape[1] for g in groups], resamples, seed)
    point = statistic([float(m.mean()) for g in groups for m in g])
    resampled = np.asarray(statistic([weighted_means(m, seed_weights, w) for g, w in zip(groups, query_weights)
                                      for m in g]))
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Interval(float(point), float(low), float(high), float(resampled.std(ddof=1)), n_seeds,
                    min(g[0].shape[1] for g in groups))


def common_seeds(*sides: PerSeed) -> list[int]:
    return sorted(reduce(set.intersection, (set(side) for side in sides)))


def query_matrices(sides: Sequence[PerSeed], seeds: Sequence[int], value: Value) -> list[np.ndarray]:
    """One (seeds, queries) matrix per side, on the queries every listed seed of every side evaluated."""
    entries = [side[s] for side in sides for s in seeds]
    queries = reduce(np.intersect1d, (np.asarray(e.queries) for e in entries))

    def aligned(entry: SeedQueries) -> np.ndarray:
        order = np.argsort(entry.queries, kind="stable")
        return np.asarray(value(entry.values), dtype=np.float64)[order[np.searchsorted(
            np.asarray(entry.queries)[order], queries)]]

    return [np.stack([aligned(side[s]) for s in seeds]) for side in sides]


def paired_difference(better: PerSeed, worse: PerSeed, value: Value, higher: bool = True) -> Interval | None:
    """``better`` minus ``worse`` (``worse`` minus ``better`` when lower is better), paired by seed and
    query; None when they share no seed or no query."""
    seeds = common_seeds(better, worse)
    if not seeds:
        return None
    a, b = query_matrices([better, worse], seeds, value)
    if not a.shape[1]:
        return None
    return bootstrap([[a - b if higher else b - a]], lambda means: means[0])


def paired_ratio_difference(numerator_a: PerSeed, denominator_a: PerSeed, numerator_b: PerSeed,
                            denominator_b: PerSeed, value: Value, higher: bool = True) -> Interval | None:
    """mean(numerator_a) / mean(denominator_a) - mean(numerator_b) / mean(denominator_b) (the opposite
    when lower is better); seeds shared by the four rows, queries within each ratio."""
    seeds = common_seeds(numerator_a, denominator_a, numerator_b, denominator_b)
    if not seeds:
        return None
    groups = [query_matrices(pair, seeds, value) for pair in ((numerator_a, denominator_a),
                                                            (numerator_b, denominator_b))]
    if not all(g[0].shape[1] for g in groups):
        return None
    sign = 1.0 if higher else -1.0
    return bootstrap(groups, lambda m: sign * (np.divide(m[0], m[1]) - np.divide(m[2], m[3])))
