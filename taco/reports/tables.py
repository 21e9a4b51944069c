"""Retrieval tables (2-8, 11-13): the paper's text-to-video numbers (``paper_tables.yaml``) beside ours
as mean ± sample std over seeds and beside the model-free ridge probe on the same test split and
features (``python -m taco probe``); the paper's claims for the table (``taco.reports.claims``) and every
row against the probe, by a paired bootstrap over seeds and test queries (``taco.paired``). Table 11
also lists the runs whose fused score falls below their best single stage (``taco.reports.fused``);
Tables 13 and 14 add parameters and FLOPs counted from built models."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from taco import experiments, profiles
from taco.paired import SeedQueries
from taco.reports.cells import CellResult, ProbeCheck, cell_result, check_against_probe
from taco.reports.claims import ClaimCheck, RatioRef, RowRef, check_claim, claims_for, median_mde, metric_label
from taco.reports.fused import FusedCheck, fused_section
from taco.reports.inputs import ProbeResult, Probes, ReportError, Results
from taco.reports.markdown import (COLUMN_NAMES, ReportContext, document, format_mean_std, format_paper, markdown_table,
                                   report_title)
from taco.reports.verdicts import CLAIM_RULE, INTERVAL_HEADER, interval_cells, mde_statement, probe_section

T2V_METRICS = ("r1", "r5", "r10", "r50", "mr")
RETRIEVAL_TABLES = ("table2", "table3", "table4", "table5", "table6", "table7", "table8", "table11", "table12",
                    "table13")
SIZE_KEYS = ("params_m", "flops_g")


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
    selected = set(profiles.selected_runs(profile))
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


def build_tables(profile: dict, results: Results, paper_tables: dict, probes: Probes) -> dict[str, TableData]:
    """Every retrieval table's rows with our cells, from ``results``, and its probe rows."""
    return {table: table_data(table, paper_tables, profile, results, probes) for table in RETRIEVAL_TABLES}


def check_claims(tables: Mapping[str, TableData], paper_tables: dict) -> dict[str, list[ClaimCheck]]:
    measured, paper = measured_lookup(tables), paper_lookup(paper_tables)
    return {table: [check_claim(claim, measured, paper) for claim in claims_for(table)] for table in tables}


def row_label(paper_row: Mapping[str, Any]) -> str:
    """A metrics.json key for a table row: its label fields, ``key=value`` joined by commas."""
    return ",".join(f"{k}={v}" for k, v in paper_row.items() if not isinstance(v, dict))


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
                           fused: tuple[int, Sequence[FusedCheck]] | None = None, convergence: str = "") -> str:
    """A retrieval table's report; ``convergence``: its rows below their validation plateau
    (``taco.reports.convergence.convergence_section``)."""
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
        convergence,
        probe_section(against_probe),
        fused_section(fused) if fused is not None else "",
        document("## Missing results", "\n".join(f"- {line}" for line in absent)) if absent else "")


def table_runs(data: TableData) -> set[experiments.Run]:
    """The runs whose results the table shows."""
    return {cell.cell.run for _, cells in data.rows for cell in cells.values() if cell.seeds}


def render_table14(paper_tables: dict, context: ReportContext, sizes: Mapping | None, selected: set) -> str:
    return document(context.header(report_title("table14", paper_tables)),
                    size_section("table14", paper_tables, sizes, selected))
