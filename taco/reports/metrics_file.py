"""``reports/metrics.json``: the mean of every reproduced table cell, for ``dvc metrics show``."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from taco.reports.cells import CellResult
from taco.reports.inputs import ProbeResult
from taco.reports.tables import T2V_METRICS, ProbeRow, TableData, row_label


def cell_means(result: CellResult) -> dict[str, float]:
    """metric -> mean over seeds of a reproduced cell, for each text-to-video metric it has."""
    return {m: summary[0] for m in T2V_METRICS if (summary := result.summary(m))}


def probe_means(result: ProbeResult) -> dict[str, float]:
    """metric -> the probe's value, for each text-to-video metric it has."""
    return {m: result.metrics[m] for m in T2V_METRICS if m in result.metrics}


def table_means(data: TableData) -> Iterator[tuple[str, Mapping[str, Any] | ProbeRow, dict[str, float]]]:
    """(column, published row, means) of every reproduced cell with results, in table order, then (column,
    probe row, means) of every probe with a result (its means possibly empty): what ``metrics.json`` and
    the DVC metrics files (``dvc_files.retrieval_metrics``) hold, under their own keys."""
    for paper_row, cells in data.rows:
        for column, result in cells.items():
            if means := cell_means(result):
                yield column, paper_row, means
    for column, probes in data.probes.items():
        for probe in probes:
            if isinstance(probe.result, ProbeResult):
                yield column, probe, probe_means(probe.result)


def metrics_summary(tables: Mapping[str, TableData]) -> dict:
    """table -> column -> row -> metric -> mean over seeds, for every reproduced cell with results, and
    the probe's metrics under ``method=probe`` (after the labels telling a column's probes apart)."""
    summary: dict = {}
    for table, data in tables.items():
        for column, row, means in table_means(data):
            key = row.key() if isinstance(row, ProbeRow) else row_label(row)
            summary.setdefault(table, {}).setdefault(column, {})[key] = means
    return summary
