"""What DVC shows: one metrics file per table (``metrics/<table>.json``, short keys: dataset -> row label ->
metric, the means of the markdown rounded as it shows them) and plot data (``plots/<table>_val_curves.csv``,
``plots/<table>_train_loss.csv``: step plus one column per row, mean over seeds; ``plots/reproduced_vs_paper.csv``:
each reproduced R@k beside the published number)."""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from taco import experiments, paths, profiles
from taco.reports.cells import CellResult
from taco.reports.curves import read_train_log
from taco.reports.inputs import ItemKey, ProbeResult, Probes, ReportError, in_results
from taco.reports.metrics_file import cell_means, probe_means, table_means
from taco.reports.tables import RETRIEVAL_TABLES, ProbeRow, TableData, find_table_row, table_columns
from taco.reports.transfer import TABLE9_FIELDS, Figure2, FIGURE2_COLUMNS
from taco.run_logs import log_entries

METRIC_KEYS = ("r1", "r5", "r10", "mr")
"""The text-to-video metrics of the markdown tables (R@1, R@5, R@10, MR)."""
METRIC_TABLES = (*RETRIEVAL_TABLES, "table9", "figure2")
"""Tables with a ``metrics/<table>.json``."""
CURVE_TABLES = (*RETRIEVAL_TABLES, "figure2")
"""Tables with training and validation curves under ``plots/``."""
RSUM_KEYS = ("t2v_r1", "t2v_r5", "t2v_r10")
MAX_CURVE_POINTS = 200
LABEL_SEPARATOR = "/"
PAPER_VS_OURS = "plots/reproduced_vs_paper.csv"


def rounded(value: float, digits: int = 1) -> float:
    """A mean as the markdown shows it (``format_mean_std``)."""
    return float(f"{value:.{digits}f}")


def _value_label(key: str, value: Any) -> str:
    if key == "video_layers":
        return f"v{value}"
    if isinstance(value, bool):
        return key if value else f"no_{key}"
    return str(value)


def row_labels(table: str) -> dict[int, str]:
    """index of the row in ``experiments.TABLES[table]`` -> its short label: the run's setting when that tells the
    rows apart (``taco``, ``l1_l3_cascade``), else the values of the key fields that vary over the rows
    (``r152/baseline``, ``v4``, ``early_stage``)."""
    rows = experiments.TABLES[table]
    settings = [next(iter(row.cells.values())).run.setting if row.cells else None for row in rows]
    if None not in settings and len(set(settings)) == len(rows):
        return dict(enumerate(settings))
    keys = [k for k in dict.fromkeys(k for row in rows for k in row.key)
            if len({repr(row.key.get(k)) for row in rows}) > 1]
    return {i: LABEL_SEPARATOR.join(_value_label(k, row.key[k]) for k in keys if k in row.key) or settings[i] or table
            for i, row in enumerate(rows)}


def paper_row_label(table: str, paper_row: Mapping[str, Any]) -> str | None:
    ours = find_table_row(table, paper_row)
    return None if ours is None else row_labels(table)[experiments.TABLES[table].index(ours)]


def _shown(means: Mapping[str, float]) -> dict[str, float]:
    """The markdown's metrics (``METRIC_KEYS``) of ``means``, rounded as it shows them."""
    return {m: rounded(means[m]) for m in METRIC_KEYS if m in means}


def _means(result: CellResult) -> dict[str, float]:
    return _shown(cell_means(result))


def _probe_means(result: ProbeResult | str) -> dict[str, float]:
    return _shown(probe_means(result)) if isinstance(result, ProbeResult) else {}


def retrieval_metrics(data: TableData) -> dict:
    """dataset -> row label -> metric -> mean over seeds, and the probe (``probe``, or ``probe/<label>`` when a
    column has several): the means of ``metrics.json`` (``metrics_file.table_means``) under short keys."""
    out: dict = {}
    for column, row, means in table_means(data):
        if isinstance(row, ProbeRow):
            label = LABEL_SEPARATOR.join(["probe", *map(str, row.label.values())])
        else:
            label = paper_row_label(data.table, row)
        if label is not None and (shown := _shown(means)):
            out.setdefault(column, {})[label] = shown
    return out


def figure2_metrics(figure2: Figure2, probes: Probes) -> dict:
    out: dict = {}
    for setting, cells in figure2.items():
        for column, result in cells.items():
            if means := _means(result):
                out.setdefault(column, {})[setting] = means
    first = next(iter(figure2.values()), {})
    for column in FIGURE2_COLUMNS:
        if column in first and (means := _probe_means(probes.get(experiments.cell_probe(first[column].cell), ""))):
            out.setdefault(column, {})["probe"] = means
    return out


def table9_metrics(found: Mapping[str, tuple[list[dict], dict[int, str]]]) -> dict:
    """evaluation -> ``taco`` -> the number Table 9 reads (recall or frame accuracy), mean over seeds."""
    out: dict = {}
    for evaluation, field in TABLE9_FIELDS.items():
        values = [seed[field] for seed in found.get(evaluation, ([], {}))[0]]
        if values:
            out[evaluation] = {"taco": {field: rounded(sum(values) / len(values))}}
    return out


def metrics_json(values: Mapping) -> str:
    return json.dumps(values, indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------------------------- curves

def curve_series(table: str) -> list[tuple[str, experiments.Cell]]:
    """(column name, cell) of every curve of a table: ``<dataset>/<row label>``, or the row label alone when
    every dataset of the row reads the same run and score (Figure 2)."""
    labels = row_labels(table)
    series: dict[str, experiments.Cell] = {}
    for i, row in enumerate(experiments.TABLES[table]):
        cells = list(row.cells.items())
        same = len({(cell.run, cell.score) for _, cell in cells}) == 1
        for column, cell in cells:
            series.setdefault(labels[i] if same else f"{column}{LABEL_SEPARATOR}{labels[i]}", cell)
    return list(series.items())


def read_val_log(path: Path, score: str) -> dict[int, float]:
    """step -> validation R@1+R@5+R@10 of ``score`` (text to video) of a run's ``val_log.jsonl``."""
    values = {}
    for _, entry in log_entries(path, error=ReportError):
        keys = [f"{score}/{key}" for key in RSUM_KEYS]
        if "step" in entry and all(key in entry for key in keys):
            values[int(entry["step"])] = sum(float(entry[key]) for key in keys)
    return values


def run_curves(profile: dict, results_dir: Path, expected: Mapping[ItemKey, str], cell: experiments.Cell,
               log_name: str) -> dict[int, float]:
    """step -> mean over the seeds found of a cell's run: its training loss, or its validation R-sum."""
    by_step: dict[int, list[float]] = {}
    for seed in profiles.run_seeds(profile, cell.run.id):
        config_hash = expected.get((cell.run.id, seed, "train")) or profiles.run_config(profile, cell.run.id, seed).hash()
        log = in_results(results_dir, paths.run_work_dir(cell.run.id, seed, config_hash)) / log_name
        if not log.is_file():
            continue
        values = read_train_log(log) if log_name == "train_log.jsonl" else read_val_log(log, cell.score)
        for step, value in values.items():
            by_step.setdefault(step, []).append(value)
    return {step: sum(values) / len(values) for step, values in sorted(by_step.items())}


def curves_csv(series: Sequence[str], curves: Mapping[str, Mapping[int, float]], max_points: int = MAX_CURVE_POINTS) -> str:
    """``step`` and one column per series (empty where a series has no value at that step); at most
    about ``max_points`` steps, evenly thinned, the last step of every series kept."""
    steps = sorted({step for values in curves.values() for step in values})
    if len(steps) > max_points:
        stride = math.ceil(len(steps) / max_points)
        keep = set(steps[::stride]) | {max(values) for values in curves.values() if values}
        steps = [step for step in steps if step in keep]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", *series])
    for step in steps:
        writer.writerow([step, *(_number(curves.get(name, {}).get(step)) for name in series)])
    return buffer.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def table_curves(table: str, profile: dict, results_dir: Path, expected: Mapping[ItemKey, str]) -> dict[str, str]:
    """``plots/<table>_val_curves.csv`` and ``plots/<table>_train_loss.csv`` of one table."""
    series = curve_series(table)
    names = [name for name, _ in series]
    return {f"plots/{table}_{kind}.csv": curves_csv(names, {name: run_curves(profile, results_dir, expected, cell, log)
                                                            for name, cell in series})
            for kind, log in (("val_curves", "val_log.jsonl"), ("train_loss", "train_log.jsonl"))}


# --------------------------------------------------------------------------------------------- paper vs ours

def paper_vs_ours(tables: Mapping[str, TableData]) -> str:
    """``label,table,metric,paper,ours``: every reproduced R@1, R@5, R@10 with its published number."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "table", "metric", "paper", "ours"])
    for table, data in tables.items():
        for paper_row, cells in data.rows:
            label = paper_row_label(table, paper_row)
            for column in table_columns(data):
                result, published = cells.get(column), paper_row.get(column)
                if label is None or result is None or not isinstance(published, dict):
                    continue
                for metric in ("r1", "r5", "r10"):
                    summary = result.summary(metric)
                    if summary and published.get(metric) is not None:
                        writer.writerow([LABEL_SEPARATOR.join([table, column, label, metric]), table, metric,
                                         published[metric], rounded(summary[0])])
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------- dvc.yaml

def dvc_plots(reports_dir: str = "reports") -> list[dict]:
    """The ``plots:`` declarations of dvc.yaml for the files above (every series a column, profile or not)."""
    plots: list[dict] = []
    for table in CURVE_TABLES:
        names = [name for name, _ in curve_series(table)]
        for kind, title, y_label in (("val_curves", "validation R@1+R@5+R@10", "val R-sum"),
                                     ("train_loss", "training loss", "loss")):
            path = f"{reports_dir}/plots/{table}_{kind}.csv"
            plots.append({f"{table}_{kind}": {"title": f"{table}: {title} per step, mean over seeds",
                                              "template": "linear", "x": "step", "y": {path: names},
                                              "y_label": y_label}})
    plots.append({"reproduced_vs_paper": {"title": "reproduced vs published R@k (text to video)",
                                          "template": "scatter", "x": "paper", "y": {f"{reports_dir}/{PAPER_VS_OURS}": "ours"},
                                          "x_label": "paper", "y_label": "ours"}})
    return plots


def dvc_metrics(reports_dir: str = "reports") -> list[dict]:
    """The ``metrics:`` declarations of the report stage: one file per table."""
    return [{f"{reports_dir}/metrics/{table}.json": {"cache": False}} for table in METRIC_TABLES]
