"""Table 11: the runs whose fused score (a plain sum of the stages: early + token + later) falls below
their best single stage, with the paired difference fused − best stage."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from taco.paired import Interval, paired_difference
from taco.reports.cells import rsum_per_query
from taco.reports.claims import comparison_verdict
from taco.reports.inputs import Results, seed_queries
from taco.reports.markdown import document, markdown_table
from taco.reports.verdicts import INTERVAL_HEADER, interval_cells

STAGES = ("early", "token", "later")


@dataclass(frozen=True)
class FusedCheck:
    """A run whose fused R-sum (mean over seeds) is below its best single stage's, with the paired
    difference fused − best stage."""

    run_id: str
    fused: float
    stage: str
    stage_value: float
    interval: Interval | None
    verdict: str


def fused_below_best(results: Results, run_ids: Sequence[str]) -> tuple[int, list[FusedCheck]]:
    """(runs with a fused score and at least two stages, those whose fused R-sum is below their best stage)."""
    compared, below = 0, []
    for run_id in run_ids:
        entries = {seed: entry for (run, seed, evaluation), entry in sorted(results.per_query.items())
                   if run == run_id and evaluation == "train"}
        by_score = {score: {seed: values for seed, entry in entries.items()
                            if (values := seed_queries(entry, score)) is not None}
                    for score in (*STAGES, "fused")}
        stages = [stage for stage in STAGES if by_score[stage]]
        if not by_score["fused"] or len(stages) < 2:
            continue
        compared += 1
        means = {score: float(np.mean([rsum_per_query(v.values).mean() for v in by_score[score].values()]))
                 for score in (*stages, "fused")}
        best = max(stages, key=means.get)
        if means["fused"] < means[best]:
            interval = paired_difference(by_score["fused"], by_score[best], rsum_per_query)
            below.append(FusedCheck(run_id, means["fused"], best, means[best], interval,
                                    comparison_verdict(interval)))
    return compared, below


def fused_sentence(compared: int, below: Sequence[FusedCheck]) -> str:
    runs = ", ".join(f"`{c.run_id}`" for c in below)
    return (f"The fused score (a plain sum of the stages) is below the run's best single stage in {len(below)} of "
            f"{compared} runs" + (f": {runs}." if below else "."))


def fused_section(fused: tuple[int, Sequence[FusedCheck]]) -> str:
    compared, below = fused
    body = [[f"`{c.run_id}`", f"{c.fused:.1f}", f"{c.stage} {c.stage_value:.1f}", *interval_cells(c.interval, c.verdict)]
            for c in below]
    return document("## Fused score below its best stage",
                    fused_sentence(compared, below) + " Every run of the profile with a fused score and at least two "
                    "stages, test R@1+R@5+R@10 (mean over seeds); the difference is fused − best stage, paired by seed "
                    "and query (*reproduced* = the fused score is above; the best stage is picked on the same data).",
                    markdown_table(["run", "fused", "best stage", "fused − stage [95 % CI]", *INTERVAL_HEADER[1:]],
                                   body) if body else "")
