"""The paired verdicts in markdown: the rule they follow, one comparison's interval cells, and the
section of a table's rows against the model-free probe."""
from __future__ import annotations

from collections.abc import Sequence

from taco.paired import Interval
from taco.reports.cells import ProbeCheck
from taco.reports.claims import NOT_REPRODUCED, REPRODUCED
from taco.reports.markdown import COLUMN_NAMES, document, markdown_table

CLAIM_RULE = ("A comparison pairs A and B by seed (the seeds both have) and by test query (the queries both "
              "evaluated): the mean per-query difference A − B in the claimed direction, with its 95 % interval "
              "from a crossed bootstrap that resamples seeds and queries independently (2000 resamples, fixed "
              "generator seed). It is *reproduced* when the interval lies above 0, *not reproduced* when it lies "
              "below 0, *inconclusive* otherwise, *missing runs* without per-query results. The minimum detectable "
              "effect (MDE) is 2.8 bootstrap standard errors (two-sided 5 % test, 80 % power). A ratio claim "
              "compares ratios of means, bootstrapped with the same paired weights. A claim is reproduced when all "
              "its comparisons are, not reproduced when one is not.")
INTERVAL_HEADER = ["ours A − B [95 % CI]", "seeds", "queries", "MDE", "verdict"]


def interval_cells(interval: Interval | None, verdict: str, digits: int = 1) -> list[str]:
    """Difference with its interval, seeds, queries, MDE and verdict of one paired comparison."""
    if interval is None:
        return ["missing", "0", "0", "—", verdict]
    return [f"{interval.estimate:+.{digits}f} [{interval.low:+.{digits}f}, {interval.high:+.{digits}f}]",
            str(interval.seeds), str(interval.queries), f"{interval.mde:.{digits}f}", verdict]


def mde_statement(mde: float | None) -> str:
    return ("" if mde is None else f"Minimum detectable effect of this report (median over its R@1+R@5+R@10 "
                                   f"comparisons): {mde:.1f} R-sum points.")


def probe_summary(checks: Sequence[ProbeCheck]) -> str:
    """One sentence: per column, how many rows beat the probe, with the largest difference."""
    parts = []
    for column in dict.fromkeys(c.column for c in checks):
        own = [c for c in checks if c.column == column]
        verdicts = [c.verdict for c in own]
        measured = [c for c in own if c.interval is not None]
        part = (f"{verdicts.count(REPRODUCED)} of {len(own)} rows beat the probe on {COLUMN_NAMES.get(column, column)}"
                f", {verdicts.count(NOT_REPRODUCED)} fall below it")
        if measured:
            best = max(measured, key=lambda c: c.interval.estimate)
            iv = best.interval
            part += (f" (largest: {best.row}, {iv.estimate:+.1f} R-sum, 95 % CI [{iv.low:+.1f}, {iv.high:+.1f}], "
                     f"{best.verdict})")
        parts.append(part)
    return "; ".join(parts) + "."


def probe_section(checks: Sequence[ProbeCheck]) -> str:
    """Whether the trained rows beat the model-free probe: paired by seed-independent query values."""
    if not checks:
        return ""
    body = [[COLUMN_NAMES.get(c.column, c.column), c.row, f"`{c.probe.id}`", *interval_cells(c.interval, c.verdict)]
            for c in checks]
    return document("## Against the model-free probe",
                    "Each row's R@1+R@5+R@10 minus the probe's on the same test queries (the probe is deterministic: "
                    "the same values pair with every seed); verdicts as for the claims: *reproduced* means the row "
                    "beats the probe.",
                    probe_summary(checks),
                    markdown_table(["dataset", "row", "probe", "ours − probe [95 % CI]", *INTERVAL_HEADER[1:]], body))
