"""Reports: every table and figure of the paper as markdown under ``reports/``, reproduced beside published.

- Retrieval tables (2-8, 11-13) put the paper's text-to-video numbers (``paper_tables.yaml``, a copy
  of the published numbers) beside ours as mean ± sample std over seeds and beside the model-free
  ridge probe on the same test split and features (``python -m taco probe``), then check the paper's
  claims for the table and every row against the probe by a paired bootstrap over seeds and test
  queries (``taco.report_claims``, ``taco.paired``). Table 11 also lists the runs whose fused score
  (a plain sum of the stages) falls below their best single stage. Tables 13 and 14 add parameters and FLOPs counted
  from built models; Table 10 and Figure 4 come from the training captions (``text_statistics``).
- Results are read from the metrics files (the truth) or rebuilt from MLflow (the window); both
  give the same tables; the per-query values of the paired verdicts always come from the files
  (MLflow holds the means only). A result counts only when it was produced by the configuration the
  profile asks for now (its config hash); missing or stale results are listed, never fatal.
- ``metrics.json`` holds the mean of every reproduced table cell, for ``dvc metrics show``.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from taco import experiments
from taco.atomic import write_bytes
from taco.config import RunConfig
from taco.data.synthetic.probe import PROBE_SCORE
from taco.metrics import summarize_over_seeds
from taco.paired import Interval, SeedQueries, paired_difference
from taco.report_claims import (NOT_REPRODUCED, REPRODUCED, VERDICTS, ClaimCheck, RatioRef, RowRef, check_claim,
                                claims_for, comparison_verdict, median_mde, metric_label, per_query_value)
from taco.tracking import EXPERIMENT, git_commit, latest_finished_runs

PAPER_TABLES_PATH = Path(__file__).with_name("paper_tables.yaml")
T2V_METRICS = ("r1", "r5", "r10", "r50", "mr")
RETRIEVAL_TABLES = ("table2", "table3", "table4", "table5", "table6", "table7", "table8", "table11", "table12",
                    "table13")
COLUMN_NAMES = {"youcook2": "YouCook2", "msrvtt_split1": "MSR-VTT (split1)", "msrvtt": "MSR-VTT",
                "activitynet": "ActivityNet"}
SIZE_KEYS = ("params_m", "flops_g")
CURVES_TITLE = "Training curves: loss per step of each Table 3 setting"
CURVE_TABLE = "table3"
"""The training curves show the loss of each Table 3 setting."""
IDF_DATASETS = ("youcook2", "msrvtt")
"""Figure 4's datasets; Table 10 also lists ActivityNet."""
IDF_SAMPLES = 30
TEXT_STATS_DIR = "text_stats"
"""``<results>/text_stats/<dataset>.json``: written by ``python -m taco text-stats``, read by the report."""
SYNTHETIC_NOTE = ("These numbers come from the embedded synthetic benchmark, not the real datasets: compare "
                  "directions and claims with the paper, not absolute values.")

ItemKey = tuple[str, int, str]
"""(run id, seed, evaluation) of one measured result."""


class ReportError(ValueError):
    """A result file cannot be read; the message names the file and the key."""


# ---------------------------------------------------------------------------------------------
# Results: (run id, seed, evaluation) -> test metrics, from files or from MLflow
# ---------------------------------------------------------------------------------------------

@dataclass
class Results:
    """Test metrics (``<score>/<t2v|v2t>_<metric>``) of every expected item that was found, and why
    the others are absent (``missing`` or ``stale``)."""

    source: str
    metrics: dict[ItemKey, dict[str, float]] = field(default_factory=dict)
    problems: dict[ItemKey, str] = field(default_factory=dict)
    per_query: dict[ItemKey, dict] = field(default_factory=dict)
    """``{"queries": [...], "per_query": {score: {metric: [...]}}}`` of the items whose file has them."""


def expected_items(profile: dict) -> dict[ItemKey, str]:
    """Every numeric result the profile's tables read, with the config hash that must have produced it."""
    selected = set(experiments.selected_runs(profile))
    expected: dict[ItemKey, str] = {}
    for rows in experiments.TABLES.values():
        for row in rows:
            for cell in row.cells.values():
                if cell.evaluation not in experiments.RETRIEVAL_EVALUATIONS or cell.run not in selected:
                    continue
                for seed in experiments.run_seeds(profile, cell.run.id):
                    key = (cell.run.id, seed, cell.evaluation)
                    if key not in expected:
                        expected[key] = experiments.evaluated_config(profile, cell.run.id, seed, cell.evaluation).hash()
    return expected


def result_path(results_dir: Path, run_id: str, seed: int, evaluation: str) -> Path:
    """The file of one result under ``results_dir`` (the layout of ``taco.experiments``)."""
    relative = Path(experiments.evaluation_path(run_id, seed, evaluation)).relative_to(experiments.RESULTS_DIR)
    return Path(results_dir) / relative


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"'{path}' is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ReportError(f"'{path}' must hold a JSON object, got {type(data).__name__}")
    return data


def _required(data: dict, key: str, path: Path) -> Any:
    if key not in data:
        raise ReportError(f"'{path}' has no '{key}' key")
    return data[key]


def read_result(path: Path, config_hash: str) -> dict | str:
    """A result file's content, or why it does not count (``missing``, ``stale (...)``)."""
    if not path.is_file():
        return "missing"
    data = _read_json(path)
    found_hash = _required(data, "config_hash", path)
    if found_hash != config_hash:
        return f"stale (config {found_hash}, expected {config_hash})"
    return data


def _per_query(data: dict, path: Path) -> dict | None:
    if "per_query" not in data:
        return None
    return {"queries": _required(data, "queries", path), "per_query": data["per_query"]}


def results_from_files(expected: Mapping[ItemKey, str], results_dir: Path) -> Results:
    """Read each expected result file: training metrics.json (``test``) or evaluation JSON (``metrics``),
    with their per-query values."""
    results = Results("metrics files")
    for key, config_hash in expected.items():
        path = result_path(results_dir, *key)
        data = read_result(path, config_hash)
        if isinstance(data, str):
            results.problems[key] = data
            continue
        metrics = _required(data, "test" if key[2] == "train" else "metrics", path)
        results.metrics[key] = {name: float(value) for name, value in metrics.items()}
        if (entry := _per_query(data, path)) is not None:
            results.per_query[key] = entry
    return results


def results_from_mlflow(expected: Mapping[ItemKey, str], results_dir: Path, experiment: str = EXPERIMENT) -> Results:
    """The same results rebuilt from MLflow: the latest FINISHED run of each expected config hash; the
    per-query values come from the result files of the same config hash under ``results_dir``."""
    runs = {job: latest_finished_runs(experiment, job=job) for job in ("train", "evaluate")}
    results = Results("MLflow")
    for key, config_hash in expected.items():
        run = runs["train" if key[2] == "train" else "evaluate"].get(config_hash)
        if run is None:
            results.problems[key] = "missing"
            continue
        results.metrics[key] = {name.removeprefix("test/"): value for name, value in run.metrics.items()
                                if name.startswith("test/")}
        path = result_path(results_dir, *key)
        data = read_result(path, config_hash)
        if not isinstance(data, str) and (entry := _per_query(data, path)) is not None:
            results.per_query[key] = entry
    return results


def seed_queries(entry: Mapping, score: str) -> SeedQueries | None:
    """One score's per-query values of a result (``Results.per_query`` entry); None when it lacks the score."""
    if score not in entry["per_query"]:
        return None
    return SeedQueries(np.asarray(entry["queries"], dtype=np.int64),
                       {metric: np.asarray(values, dtype=np.float64) for metric, values in entry["per_query"][score].items()})


# ---------------------------------------------------------------------------------------------
# Table cells: per-seed text-to-video metrics of a row in a column
# ---------------------------------------------------------------------------------------------

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


def t2v_metrics(test: Mapping[str, float], score: str) -> dict[str, float]:
    """The text-to-video metrics of one score, named as in the paper tables (``fused/t2v_r1`` -> ``r1``)."""
    prefix = f"{score}/t2v_"
    return {name.removeprefix(prefix): value for name, value in test.items() if name.startswith(prefix)}


def cell_result(cell: experiments.Cell, profile: dict, results: Results, selected: set) -> CellResult:
    if cell.run not in selected:
        return CellResult(cell, [], {}, in_profile=False)
    seeds, absent, per_query = [], {}, {}
    for seed in experiments.run_seeds(profile, cell.run.id):
        key = (cell.run.id, seed, cell.evaluation)
        if key in results.metrics:
            seeds.append(t2v_metrics(results.metrics[key], cell.score))
            values = seed_queries(results.per_query[key], cell.score) if key in results.per_query else None
            if values is not None:
                per_query[seed] = values
        else:
            absent[seed] = results.problems.get(key, "missing")
    return CellResult(cell, seeds, absent, in_profile=True, per_query=per_query)


# ---------------------------------------------------------------------------------------------
# The model-free probe beside each retrieval table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeResult:
    """A probe's text-to-video metrics (paper naming) and per-query values."""

    metrics: dict[str, float]
    values: SeedQueries


Probes = Mapping[experiments.Probe, ProbeResult | str]
"""probe -> its result, or why it is absent."""


def probe_file(results_dir: Path, probe: experiments.Probe) -> Path:
    return Path(results_dir) / Path(experiments.probe_path(probe.id)).relative_to(experiments.RESULTS_DIR)


def read_probes(profile: dict, results_dir: Path) -> dict[experiments.Probe, ProbeResult | str]:
    """Every probe of the profile from ``<results>/probe/``; stale when fitted on other data settings."""
    found: dict[experiments.Probe, ProbeResult | str] = {}
    for probe in experiments.probe_jobs(profile):
        path = probe_file(results_dir, probe)
        data = read_result(path, experiments.probe_hash(profile, probe))
        if not isinstance(data, str):
            values = seed_queries(_per_query(data, path) or {"queries": [], "per_query": {}}, PROBE_SCORE)
            if values is None:
                raise ReportError(f"'{path}' has no per-query values of the score '{PROBE_SCORE}'")
            data = ProbeResult(t2v_metrics(_required(data, "metrics", path), PROBE_SCORE), values)
        found[probe] = data
    return found


@dataclass(frozen=True)
class ProbeRow:
    """The probe row of a table column: the labels telling it from the column's other probes."""

    probe: experiments.Probe
    label: dict[str, Any]
    result: ProbeResult | str

    def key(self) -> str:
        """Its metrics.json row key (``method=probe``, after the labels that tell it apart)."""
        return row_label({**self.label, "method": "probe"})

    def source(self) -> str:
        fitted = f", fitted on {experiments.PRETRAIN_DATASET}" if self.probe.zero_shot else ""
        return f"probe (model-free){fitted}: `{self.probe.id}`"


def probe_rows(rows: Sequence[tuple[Mapping[str, Any], CellResult]], probes: Probes) -> list[ProbeRow]:
    """The probes of a column's in-profile rows, each labelled by the fields, constant over the rows it
    stands beside, that tell it from the column's other probes (in label order, only those needed)."""
    groups: dict[experiments.Probe, list[Mapping[str, Any]]] = {}
    for paper_row, result in rows:
        if result.in_profile:
            groups.setdefault(experiments.cell_probe(result.cell), []).append(paper_row)
    out = []
    for probe, beside in groups.items():
        label, others = {}, [r for p, r in groups.items() if p != probe]
        for key in label_keys(beside):
            if not others:
                break
            value = beside[0].get(key)
            if any(r.get(key) != value for r in beside):
                continue
            remaining = [o for o in others if all(r.get(key) == value for r in o)]
            if len(remaining) < len(others):
                label[key], others = value, remaining
        out.append(ProbeRow(probe, label, probes.get(probe, "missing")))
    return out


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


@dataclass
class TableData:
    """A table's paper rows, each with our measured cells by column."""

    table: str
    paper: dict
    rows: list[tuple[dict, dict[str, CellResult]]]   # (paper row, column -> our cell)
    probes: dict[str, list[ProbeRow]] = field(default_factory=dict)   # column -> probe rows


def find_table_row(table: str, paper_row: Mapping[str, Any]) -> experiments.Row | None:
    """Our row standing for a published row: the one whose key fields all equal the published ones."""
    for row in experiments.TABLES.get(table, []):
        if all(paper_row.get(k) == v for k, v in row.key.items()):
            return row
    return None


def table_data(table: str, paper_tables: dict, profile: dict, results: Results, probes: Probes) -> TableData:
    selected = set(experiments.selected_runs(profile))
    rows = []
    for paper_row in paper_tables[table]["rows"]:
        ours = find_table_row(table, paper_row)
        ours_cells = ours.cells if ours else {}
        cells = {column: cell_result(cell, profile, results, selected) for column, cell in ours_cells.items()}
        rows.append((paper_row, cells))
    data = TableData(table, paper_tables[table], rows)
    data.probes = {column: probe_rows([(r, cells[column]) for r, cells in rows if column in cells], probes)
                   for column in table_columns(data)}
    return data


def probe_checks(data: TableData, probes: Probes) -> list[ProbeCheck]:
    """Every in-profile row of a table against its probe."""
    return [check_against_probe(column, row_label(paper_row), result, probes)
            for column in table_columns(data) for paper_row, cells in data.rows
            if (result := cells.get(column)) is not None and result.in_profile]


def measured_lookup(tables: Mapping[str, TableData]) -> Callable[[RowRef], dict[int, SeedQueries] | None]:
    """Per-query measured values by seed of a claim's row (None when the row has none)."""
    def measured(ref: RowRef) -> dict[int, SeedQueries] | None:
        for paper_row, cells in tables[ref.table].rows:
            if ref.matches(paper_row) and ref.column in cells:
                return cells[ref.column].per_query or None
        raise ReportError(f"claim row {ref.describe()} has no reproduced cell")
    return measured


def paper_lookup(paper_tables: dict) -> Callable[[RowRef], Mapping[str, float]]:
    def paper(ref: RowRef) -> Mapping[str, float]:
        for paper_row in paper_tables[ref.table]["rows"]:
            if ref.matches(paper_row) and ref.column in paper_row:
                return paper_row[ref.column]
        raise ReportError(f"claim row {ref.describe()} is not in the paper's tables")
    return paper


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

def format_mean_std(mean: float, std: float, n: int, digits: int = 1) -> str:
    """``mean ± std`` with ``digits`` decimals; a single seed has no spread and shows the mean only."""
    if n < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_paper(value: Any) -> str:
    return "—" if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def document(*blocks: str) -> str:
    """Markdown blocks separated by blank lines (empty blocks dropped), ending with a newline."""
    return "\n\n".join(block.strip("\n") for block in blocks if block) + "\n"


@dataclass(frozen=True)
class ReportContext:
    """What every report's header states."""

    date: str
    commit: str
    profile_name: str
    profile_path: str
    synthetic: bool
    source: str

    def header(self, title: str) -> str:
        provenance = (f"Generated {self.date} from commit `{self.commit}` with profile `{self.profile_name}` "
                      f"(`{self.profile_path}`); results read from {self.source}.")
        return document(f"# {title}", provenance, f"> {SYNTHETIC_NOTE}" if self.synthetic else "")


def report_title(name: str, paper_tables: dict) -> str:
    """``Table 2: <published title>`` for a table or figure id of ``paper_tables.yaml``."""
    number = name.replace("table", "Table ").replace("figure", "Figure ")
    return f"{number}: {paper_tables[name]['title']}"


def report_date() -> str:
    """Today (UTC), or the date of ``SOURCE_DATE_EPOCH`` when set (reproducible reports)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.date().isoformat()


def label_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The label fields of published rows (every non-metric field), in order of first appearance."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if not isinstance(value, dict) and key not in SIZE_KEYS:
                keys.setdefault(key)
    return list(keys)


def cell_source(result: CellResult) -> str:
    cell = result.cell
    evaluation = "" if cell.evaluation == "train" else f", {cell.evaluation.replace('_', ' ')}"
    return f"`{cell.run.id}` ({cell.score}{evaluation})"


def retrieval_section(data: TableData, column: str) -> str:
    """One dataset column: published and reproduced text-to-video metrics side by side."""
    rows = [(paper_row, cells) for paper_row, cells in data.rows if column in paper_row or column in cells]
    metrics = [m for m in T2V_METRICS if any(m in (paper_row.get(column) or {}) for paper_row, _ in rows)]
    labels = label_keys([paper_row for paper_row, _ in rows])
    header = [*labels]
    for metric in metrics:
        header += [f"{metric_label(metric)} paper", f"{metric_label(metric)} ours"]
    header += ["seeds", "our run (score)"]
    body = []
    for paper_row, cells in rows:
        line = [format_paper(paper_row.get(key)) for key in labels]
        result = cells.get(column)
        for metric in metrics:
            summary = result.summary(metric) if result else None
            ours = format_mean_std(*summary) if summary else ("missing" if result and result.in_profile else "—")
            line += [format_paper((paper_row.get(column) or {}).get(metric)), ours]
        if result is None:
            line += ["", "peer method (not rerun)"]
        elif not result.in_profile:
            line += ["0", f"{cell_source(result)}: not in this profile"]
        else:
            line += [str(len(result.seeds)), cell_source(result)]
        body.append(line)
    for probe in data.probes.get(column, []):
        label = {**probe.label, "method": "probe"}
        line = [format_paper(label[key]) if key in label else "" for key in labels]
        for metric in metrics:
            found = isinstance(probe.result, ProbeResult) and metric in probe.result.metrics
            line += ["—", format_mean_std(probe.result.metrics[metric], 0.0, 1) if found else "missing"]
        body.append(line + ["—", probe.source()])
    return document(f"## {COLUMN_NAMES.get(column, column)}", markdown_table(header, body))


def table_columns(data: TableData) -> list[str]:
    columns: dict[str, None] = {}
    for paper_row, cells in data.rows:
        for key, value in paper_row.items():
            if isinstance(value, dict):
                columns.setdefault(key)
        for column in cells:
            columns.setdefault(column)
    return list(columns)


def absent_results(data: TableData) -> list[str]:
    """``run id seed k (evaluation): reason`` for every absent result of a table, sorted."""
    lines = {f"`{result.cell.run.id}` seed {seed} ({result.cell.evaluation}): {reason}"
             for _, cells in data.rows for result in cells.values() for seed, reason in result.absent.items()}
    return sorted(lines)


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


def claims_section(checks: Sequence[ClaimCheck]) -> str:
    if not checks:
        return ""
    summary = [[i, check.claim.description, f"{metric_label(check.claim.metric)}, {check.claim.direction} is better",
                "yes" if check.paper_supports else "no", f"**{check.verdict}**"]
               for i, check in enumerate(checks, 1)]
    blocks = ["## Claims of the paper", CLAIM_RULE, mde_statement(median_mde(checks)),
              markdown_table(["#", "claim", "metric", "paper's numbers agree", "verdict"], summary)]
    for i, check in enumerate(checks, 1):
        details = []
        for c in check.comparisons:
            digits = 3 if isinstance(c.better, RatioRef) else 1
            details.append([c.better.describe(), c.worse.describe(), f"{c.paper_better:g} vs {c.paper_worse:g}",
                            *interval_cells(c.interval, c.verdict, digits)])
        blocks += [f"### Claim {i}: {check.claim.description} ({metric_label(check.claim.metric)})",
                   markdown_table(["A", "B", "paper A vs B", *INTERVAL_HEADER], details)]
    return document(*blocks)


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


def size_section(table: str, paper_tables: dict, sizes: Mapping | None, selected: set) -> str:
    """Tables 13 and 14: published parameters and FLOPs beside those counted from the paper's
    architecture (BERT-base, d = 768, random weights) and from our model."""
    def counted(group: str, name: str | None, key: str, in_profile: bool) -> str:
        if name is None or not in_profile:
            return "—"
        entry = ((sizes or {}).get(group) or {}).get(name)
        return f"{entry[key]:.2f}" if entry else "missing"

    labels = label_keys(paper_tables[table]["rows"])
    header = [*labels, "params (M) paper", "params (M) counted, paper arch.", "params (M) ours",
              "FLOPs (G) paper", "GMACs counted, paper arch.", "GMACs ours"]
    body = []
    for paper_row in paper_tables[table]["rows"]:
        ours = find_table_row(table, paper_row)
        paper_arch = str(ours.paper_video_layers) if ours and ours.paper_video_layers is not None else None
        our_run = ours.size_run if ours else None
        in_profile = our_run in selected
        body.append([*[format_paper(paper_row.get(key)) for key in labels],
                     format_paper(paper_row.get("params_m")), counted("paper", paper_arch, "params_m", in_profile),
                     counted("runs", our_run.id if our_run else None, "params_m", in_profile),
                     format_paper(paper_row.get("flops_g")), counted("paper", paper_arch, "macs_g", in_profile),
                     counted("runs", our_run.id if our_run else None, "macs_g", in_profile)])
    note = ("Counted from built models at 48 video and 30 text tokens (one text-video pair); the paper's "
            "\"FLOPs\" are multiply-adds, so GMACs are their unit. Our models include the frozen text backbone "
            "whose features they cache.")
    return document("## Model size and cost", note, markdown_table(header, body))


def render_retrieval_table(data: TableData, context: ReportContext, checks: Sequence[ClaimCheck],
                           sizes: Mapping | None, selected: set, against_probe: Sequence[ProbeCheck] = (),
                           fused: tuple[int, Sequence[FusedCheck]] | None = None) -> str:
    absent = absent_results(data)
    absent += sorted(f"probe `{p.probe.id}`: {p.result}" for rows in data.probes.values() for p in rows
                     if isinstance(p.result, str))
    return document(
        context.header(report_title(data.table, {data.table: data.paper})),
        "Ours: text-to-video, mean ± sample std over the seeds found (`seeds` column); paper: as published; "
        "probe: the model-free ridge probe (bag of words to mean clip feature) on the same test split and features.",
        f"Paper's note: {data.paper['note']}" if "note" in data.paper else "",
        *[retrieval_section(data, column) for column in table_columns(data)],
        size_section(data.table, {data.table: data.paper}, sizes, selected) if data.table == "table13" else "",
        claims_section(checks) or "No claim of this table can be checked: its other rows are peer methods.",
        probe_section(against_probe),
        fused_section(fused) if fused is not None else "",
        document("## Missing results", "\n".join(f"- {line}" for line in absent)) if absent else "")


# ---------------------------------------------------------------------------------------------
# Fused score against its best single stage (fused = early + token + later)
# ---------------------------------------------------------------------------------------------

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


def render_table14(paper_tables: dict, context: ReportContext, sizes: Mapping | None, selected: set) -> str:
    return document(context.header(report_title("table14", paper_tables)),
                    size_section("table14", paper_tables, sizes, selected))


def render_table10(paper_tables: dict, context: ReportContext, text_stats: Mapping[str, dict]) -> str:
    header = ["dataset", "noun paper", "noun ours", "verb paper", "verb ours", "all paper", "all ours",
              "training captions (ours)"]
    body = []
    for row in paper_tables["table10"]["rows"]:
        ours = text_stats.get(row["dataset"])
        stats = ours["statistics"] if ours else {}
        body.append([row["dataset"], row["noun"], stats.get("noun", "missing"), row["verb"],
                     stats.get("verb", "missing"), row["all"], stats.get("all", "missing"),
                     ours["captions"] if ours else "missing"])
    note = ("Distinct lowercased words tagged NOUN / VERB by spaCy (coarse tags), and distinct words of any tag, "
            "over each dataset's training captions.")
    return document(context.header(report_title("table10", paper_tables)), note, markdown_table(header, body))


def render_figure3(paper_tables: dict, context: ReportContext, retrievals: Mapping[str, dict]) -> str:
    blocks = [context.header(report_title("figure3", paper_tables)),
              "Top retrieved test segments (their first caption) for test captions drawn at random, as the weight "
              "of the token-level score grows; ✓ marks the query's own segment."]
    if not retrievals:
        blocks.append("No retrieval file found: the Figure 3 jobs have not run.")
    for column, data in retrievals.items():
        weights = [str(w) for w in data["token_weights"]]
        for query in data["queries"]:
            ranked = {w: data["retrievals"][w][query] for w in weights}
            body = [[rank + 1, *[("✓ " if ranked[w][rank]["correct"] else "") + ranked[w][rank]["captions"][0]
                                 for w in weights]] for rank in range(min(len(v) for v in ranked.values()))]
            hits = [sum(item["correct"] for item in ranked[w]) for w in weights]
            blocks += [f"## {COLUMN_NAMES.get(column, column)}: \"{query}\"",
                       markdown_table(["rank", *[f"token weight {w}" for w in weights]], body),
                       "Own segment in the top list: " + ", ".join(f"{w}: {h}" for w, h in zip(weights, hits))]
    return document(*blocks)


# ---------------------------------------------------------------------------------------------
# Figures (matplotlib, Agg)
# ---------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def no_data_png(message: str) -> bytes:
    """A figure saying what is missing: every figure file exists, so the workflow can declare it."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return _png_bytes(figure)


def figure4_png(text_stats: Mapping[str, dict]) -> bytes:
    """IDF of the sampled nouns and verbs of each dataset, from rare to frequent (paper Figure 4)."""
    plt = _pyplot()
    datasets = [d for d in IDF_DATASETS if d in text_stats]
    figure, axes = plt.subplots(len(datasets), 2, figsize=(13, 4 * len(datasets)), squeeze=False, layout="constrained")
    for axes_row, dataset in zip(axes, datasets):
        for ax, pos in zip(axes_row, ("noun", "verb")):
            curve = text_stats[dataset]["idf_curves"][pos]
            ax.bar(range(len(curve)), [idf for _, idf in curve], color="tab:blue" if pos == "noun" else "tab:orange")
            ax.set_xticks(range(len(curve)), [word for word, _ in curve], rotation=90, fontsize=7)
            ax.set_title(f"{COLUMN_NAMES.get(dataset, dataset)}: {pos}s (rare → frequent)")
            ax.set_ylabel("idf (Eq. 7)")
    return _png_bytes(figure)


def render_figure4(paper_tables: dict, context: ReportContext, text_stats: Mapping[str, dict]) -> str:
    header = context.header(report_title("figure4", paper_tables))
    datasets = [d for d in IDF_DATASETS if d in text_stats]
    if not datasets:
        return document(header, "No token statistics found: the text statistics jobs have not run.")
    words = [f"- {COLUMN_NAMES.get(dataset, dataset)} {pos}s: "
             + ", ".join(f"{w} ({idf:.2f})" for w, idf in text_stats[dataset]["idf_curves"][pos])
             for dataset in datasets for pos in ("noun", "verb")]
    return document(header, "![Figure 4](figure4.png)", "Sampled words and their idf (Eq. 7):", "\n".join(words))


def read_train_log(path: Path) -> dict[int, float]:
    """step -> loss of a run's ``train_log.jsonl``; errors name the file and the line."""
    losses = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            losses[int(entry["step"])] = float(entry["loss"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ReportError(f"'{path}' line {number} is not a training log entry with step and loss: {err}") from err
    return losses


Curves = dict[str, dict[str, dict[int, list[float]]]]
"""column -> setting -> step -> losses over seeds."""


def training_curves(profile: dict, results_dir: Path, expected: Mapping[ItemKey, str]) -> Curves:
    """The training loss of each Table 3 setting per column, from the runs' training logs."""
    curves: Curves = {}
    for row in experiments.TABLES[CURVE_TABLE]:
        for column, cell in row.cells.items():
            for seed in experiments.run_seeds(profile, cell.run.id):
                config_hash = expected.get((cell.run.id, seed, "train"))
                if config_hash is None:
                    continue
                log = Path(results_dir) / Path(experiments.run_work_dir(cell.run.id, seed, config_hash)).relative_to(
                    experiments.RESULTS_DIR) / "train_log.jsonl"
                if log.is_file():
                    for step, loss in read_train_log(log).items():
                        curves.setdefault(column, {}).setdefault(cell.run.setting, {}).setdefault(step, []).append(loss)
    return curves


def training_curves_png(curves: Curves) -> bytes:
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4), squeeze=False, layout="constrained")
    for ax, (column, settings) in zip(axes[0], curves.items()):
        for label, by_step in settings.items():
            steps = sorted(by_step)
            stats = [summarize_over_seeds(by_step[s]) for s in steps]
            means = [m for m, _ in stats]
            ax.plot(steps, means, label=label, linewidth=1)
            ax.fill_between(steps, [m - s for m, s in stats], [m + s for m, s in stats], alpha=0.2)
        ax.set_title(COLUMN_NAMES.get(column, column))
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (mean ± std over seeds)")
        ax.legend(fontsize=8)
    return _png_bytes(figure)


def render_training_curves(context: ReportContext, curves: Curves) -> str:
    header = context.header(CURVES_TITLE)
    if not curves:
        return document(header, "No training log found.")
    body = []
    for column, settings in curves.items():
        for label, by_step in settings.items():
            last = max(by_step)
            mean, std = summarize_over_seeds(by_step[last])
            body.append([COLUMN_NAMES.get(column, column), label, last,
                         format_mean_std(mean, std, len(by_step[last]), digits=3)])
    return document(header, "![Training curves](training_curves.png)",
                    "Each loss sums different terms per setting (`taco.experiments.SETTINGS`): compare shapes, "
                    "not levels.",
                    markdown_table(["dataset", "setting", "last step", "loss"], body))


# ---------------------------------------------------------------------------------------------
# Text statistics (Table 10, Figure 4)
# ---------------------------------------------------------------------------------------------

def text_statistics(cfg: RunConfig, samples: int = IDF_SAMPLES) -> dict:
    """Table 10 counts and Figure 4 idf curves over the training captions of ``cfg``'s dataset."""
    from taco.data.retrieval import split_clips
    from taco.text.idf import idf_curve, idf_table, token_statistics
    from taco.text.pos import is_token_of_interest, tag_captions

    captions = [clip.text for clip in split_clips(cfg)["train"]]
    tagged = tag_captions(captions)
    idf = idf_table(tagged, "noun+verb")
    words = {pos: {w.lower for caption in tagged for w in caption if is_token_of_interest(w, pos)}
             for pos in ("noun", "verb")}
    return {"dataset": cfg.data.dataset, "root": cfg.data.root, "captions": len(captions),
            "statistics": token_statistics(tagged),
            "idf_curves": {pos: [[w, v] for w, v in idf_curve(idf, words[pos], samples)] for pos in ("noun", "verb")}}


def read_text_stats(text_stats_dir: Path) -> dict[str, dict]:
    """dataset -> statistics, from ``<dir>/<dataset>.json`` files written by ``python -m taco text-stats``."""
    found = {}
    for dataset in ("youcook2", "msrvtt", "activitynet"):
        path = Path(text_stats_dir) / f"{dataset}.json"
        if path.is_file():
            data = _read_json(path)
            for key in ("captions", "statistics", "idf_curves"):
                _required(data, key, path)
            found[dataset] = data
    return found


# ---------------------------------------------------------------------------------------------
# Writing the reports
# ---------------------------------------------------------------------------------------------

def write_atomically(path: Path, content: str | bytes) -> None:
    """Never a half-written report."""
    write_bytes(path, content.encode() if isinstance(content, str) else content)


def row_label(paper_row: Mapping[str, Any]) -> str:
    """A metrics.json key for a table row: its label fields, ``key=value`` joined by commas."""
    return ",".join(f"{k}={v}" for k, v in paper_row.items() if not isinstance(v, dict))


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


def load_paper_tables(path: Path = PAPER_TABLES_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def build_tables(profile: dict, results: Results, paper_tables: dict, probes: Probes) -> dict[str, TableData]:
    """Every retrieval table's rows with our cells, from ``results``, and its probe rows."""
    return {table: table_data(table, paper_tables, profile, results, probes) for table in RETRIEVAL_TABLES}


def check_claims(tables: Mapping[str, TableData], paper_tables: dict) -> dict[str, list[ClaimCheck]]:
    measured, paper = measured_lookup(tables), paper_lookup(paper_tables)
    return {table: [check_claim(claim, measured, paper) for claim in claims_for(table)] for table in tables}


@dataclass(frozen=True)
class ReportInputs:
    """Where the report reads from: the results folder (layout of ``taco.experiments``) and MLflow or files."""

    results_dir: Path
    from_mlflow: bool = False
    experiment: str = EXPERIMENT

    @property
    def text_stats_dir(self) -> Path:
        return self.results_dir / TEXT_STATS_DIR

    @property
    def model_sizes_path(self) -> Path:
        return self.results_dir / Path(experiments.MODEL_SIZES_PATH).relative_to(experiments.RESULTS_DIR)


def write_reports(profile_path: Path, inputs: ReportInputs, out_dir: Path) -> dict[str, str]:
    """Write every report, ``README.md`` and ``metrics.json`` under ``out_dir``; return file -> title."""
    from taco import report_transfer
    profile = experiments.load_profile(profile_path)
    paper_tables = load_paper_tables()
    expected = expected_items(profile)
    results = (results_from_mlflow(expected, inputs.results_dir, inputs.experiment) if inputs.from_mlflow
               else results_from_files(expected, inputs.results_dir))
    probes = read_probes(profile, inputs.results_dir)
    context = ReportContext(report_date(), git_commit(), profile.get("profile", Path(profile_path).stem),
                            str(profile_path), profile["data"]["source"] == "synthetic", results.source)
    tables = build_tables(profile, results, paper_tables, probes)
    checks = check_claims(tables, paper_tables)
    against_probe = {table: probe_checks(data, probes) for table, data in tables.items()}
    fused = fused_below_best(results, experiments.unique_runs(profile))
    sizes = _read_json(inputs.model_sizes_path) if inputs.model_sizes_path.is_file() else None
    text_stats = read_text_stats(inputs.text_stats_dir)
    figure3_models = {run_id: seed for run_id, seed, evaluation in experiments.evaluations(profile)
                      if evaluation == "figure3"}
    figure3_paths = {column: result_path(inputs.results_dir, cell.run.id, figure3_models[cell.run.id], "figure3")
                     for row in experiments.TABLES["figure3"] for column, cell in row.cells.items()
                     if cell.run.id in figure3_models}
    retrievals = {column: _read_json(path) for column, path in figure3_paths.items() if path.is_file()}
    curves = training_curves(profile, inputs.results_dir, expected)

    selected = set(experiments.selected_runs(profile))
    reports = {f"{table}.md": render_retrieval_table(data, context, checks[table], sizes, selected,
                                                     against_probe[table], fused if table == "table11" else None)
               for table, data in tables.items()}
    reports["table10.md"] = render_table10(paper_tables, context, text_stats)
    reports["table14.md"] = render_table14(paper_tables, context, sizes, selected)
    reports["figure3.md"] = render_figure3(paper_tables, context, retrievals)
    figure2 = report_transfer.figure2_data(profile, results)
    checks["figure2"] = report_transfer.figure2_checks(figure2)
    against_probe["figure2"] = report_transfer.figure2_probe_checks(figure2, probes)
    reports["figure2.md"] = report_transfer.render_figure2(paper_tables, context, figure2, checks["figure2"],
                                                           probes, against_probe["figure2"])
    reports["table9.md"] = report_transfer.render_table9(paper_tables, context,
                                                         report_transfer.table9_results(profile, inputs.results_dir))
    reports["figure4.md"] = render_figure4(paper_tables, context, text_stats)
    reports["training_curves.md"] = render_training_curves(context, curves)
    titles = {name: report_title(name, paper_tables)
              for name in [*tables, "table9", "table10", "table14", "figure2", "figure3", "figure4"]}
    index = {name: titles.get(name.removesuffix(".md"), CURVES_TITLE) for name in reports}
    figures = {
        "figure4.png": figure4_png(text_stats) if any(d in text_stats for d in IDF_DATASETS)
        else no_data_png("Figure 4: no token statistics yet"),
        "training_curves.png": training_curves_png(curves) if curves else no_data_png("no training log yet"),
        "figure2.png": report_transfer.figure2_png(figure2)
        if any(cell.seeds for cells in figure2.values() for cell in cells.values())
        else no_data_png("Figure 2: no zero-shot result yet"),
    }

    out_dir = Path(out_dir)
    for name, content in {**figures, **reports}.items():
        write_atomically(out_dir / name, content)
    write_atomically(out_dir / "README.md", render_readme(context, index, checks, results, expected, against_probe,
                                                          fused))
    write_atomically(out_dir / "metrics.json", json.dumps(metrics_summary(tables), indent=2, sort_keys=True) + "\n")
    return index


def _report_order(name: str) -> tuple[int, str]:
    number = re.search(r"\d+", name)
    return (int(number.group()) if number else 1_000_000, name)


def verdict_counts(verdicts: Sequence[str]) -> str:
    """``reproduced: 2, inconclusive: 1`` (verdicts in a fixed order), or ``—`` without any."""
    return ", ".join(f"{verdict}: {verdicts.count(verdict)}" for verdict in VERDICTS if verdict in verdicts) or "—"


def render_readme(context: ReportContext, index: Mapping[str, str], checks: Mapping[str, list[ClaimCheck]],
                  results: Results, expected: Mapping[ItemKey, str],
                  against_probe: Mapping[str, Sequence[ProbeCheck]], fused: tuple[int, Sequence[FusedCheck]]) -> str:
    """The index of every report with each table's verdicts (claims, their comparisons, rows against the
    probe), the runs whose fused score is below a stage, and the absent results."""
    body = []
    for name in sorted(index, key=lambda n: (not n.startswith("table"), _report_order(n))):
        table_checks = checks.get(name.removesuffix(".md"), [])
        beats = [c.verdict for c in against_probe.get(name.removesuffix(".md"), [])]
        body.append([f"[{name}]({name})", index[name], verdict_counts([check.verdict for check in table_checks]),
                     verdict_counts([c.verdict for check in table_checks for c in check.comparisons]),
                     f"{beats.count(REPRODUCED)} of {len(beats)}" if beats else "—"])
    absent = [f"- `{run_id}` seed {seed} ({evaluation}): {reason}"
              for (run_id, seed, evaluation), reason in sorted(results.problems.items())]
    return document(
        context.header("TACo reproduction reports"),
        f"{len(results.metrics)} of the {len(expected)} results the tables read were found "
        f"({len({key[0] for key in expected})} runs, each over its seeds and evaluations).",
        markdown_table(["report", "content", "claims", "comparisons", "rows beating the probe"], body),
        CLAIM_RULE,
        fused_sentence(*fused) + " See [table11.md](table11.md).",
        "Means of every reproduced cell: [metrics.json](metrics.json) (`dvc metrics show`). The same tables can be "
        "rebuilt from MLflow: `python -m taco report --from-mlflow ...`; browse the runs with `mlflow ui "
        "--backend-store-uri sqlite:///mlflow.db`.",
        document("## Missing or stale results", "\n".join(absent)) if absent else "")
