"""Our measured cells: the per-seed text-to-video metrics of one row of a table in one column, and a
cell against the model-free probe on its test split (R-sum, paired by query: ``taco.paired``)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from taco import experiments, profiles
from taco.metrics import summarize_over_seeds
from taco.paired import Interval, SeedQueries, paired_difference
from taco.reports.claims import comparison_verdict, per_query_value
from taco.reports.inputs import ProbeResult, Probes, Results, seed_queries, t2v_metrics


@dataclass
class CellResult:
    """What we measured for one row of a table in one column."""

    cell: experiments.Cell
    seeds: list[dict[str, float]]          # text-to-video metrics in paper naming, one mapping per found seed
    absent: dict[int, str]                 # seed -> why its result is absent
    in_profile: bool
    per_query: dict[int, SeedQueries] = field(default_factory=dict)   # seed -> per-query values of the score

    def summary(self, metric: str) -> tuple[float, float, int] | None:
        values = [seed[metric] for seed in self.seeds if metric in seed]
        if not values:
            return None
        mean, std = summarize_over_seeds(values)
        return mean, std, len(values)


def cell_result(cell: experiments.Cell, profile: dict, results: Results, selected: set) -> CellResult:
    if cell.run not in selected:
        return CellResult(cell, [], {}, in_profile=False)
    seeds, absent, per_query = [], {}, {}
    for seed in profiles.run_seeds(profile, cell.run.id):
        key = (cell.run.id, seed, cell.evaluation)
        if key in results.metrics:
            seeds.append(t2v_metrics(results.metrics[key], cell.score))
            values = seed_queries(results.per_query[key], cell.score) if key in results.per_query else None
            if values is not None:
                per_query[seed] = values
        else:
            absent[seed] = results.problems.get(key, "missing")
    return CellResult(cell, seeds, absent, in_profile=True, per_query=per_query)


def rsum_per_query(values: Mapping[str, np.ndarray]) -> np.ndarray:
    return per_query_value(values, "rsum")


@dataclass(frozen=True)
class ProbeCheck:
    """A trained row against the probe on its test split: R-sum, paired by query (the probe has no seeds)."""

    column: str
    row: str
    probe: experiments.Probe
    interval: Interval | None
    verdict: str


def check_against_probe(column: str, row: str, result: CellResult, probes: Probes) -> ProbeCheck:
    probe = experiments.cell_probe(result.cell)
    found = probes.get(probe)
    interval = None
    if isinstance(found, ProbeResult) and result.per_query:
        interval = paired_difference(result.per_query, {seed: found.values for seed in result.per_query},
                                     rsum_per_query)
    return ProbeCheck(column, row, probe, interval, comparison_verdict(interval))
