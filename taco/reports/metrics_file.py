"""``reports/metrics.json``: the mean of every reproduced table cell, for ``dvc metrics show``."""
from __future__ import annotations

from collections.abc import Mapping

from taco.reports.inputs import ProbeResult
from taco.reports.tables import T2V_METRICS, TableData, row_label


def metrics_summary(tables: Mapping[str, TableData]) -> dict:
    """table -> column -> row -> metric -> mean over seeds, for every reproduced cell with results, and
    the probe's metrics under ``method=probe`` (after the labels telling a column's probes apart)."""
    summary: dict = {}
    for table, data in tables.items():
        for paper_row, cells in data.rows:
            for column, result in cells.items():
                means = {m: result.summary(m)[0] for m in T2V_METRICS if result.summary(m)}
                if means:
                    summary.setdefault(table, {}).setdefault(column, {})[row_label(paper_row)] = means
        for column, probes in data.probes.items():
            for probe in probes:
                if isinstance(probe.result, ProbeResult):
                    summary.setdefault(table, {}).setdefault(column, {})[probe.key()] = {
                        m: probe.result.metrics[m] for m in T2V_METRICS if m in probe.result.metrics}
    return summary
