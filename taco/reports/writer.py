"""``python -m taco report``: every report, ``README.md`` (the index with each table's verdicts) and
``metrics.json`` under one folder, written atomically."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from taco import experiments, profiles
from taco.atomic import write_bytes
from taco.reports.cells import ProbeCheck
from taco.reports.claims import REPRODUCED, VERDICTS, ClaimCheck
from taco.reports.convergence import below_plateau, convergence_section
from taco.reports.curves import CURVES_TITLE, render_training_curves, training_curves
from taco.reports.figure3 import read_retrievals, render_figure3
from taco.reports.dvc_files import (CURVE_TABLES, PAPER_VS_OURS, figure2_metrics, metrics_json, paper_vs_ours,
                                   retrieval_metrics, table9_metrics, table_curves)
from taco.reports.figures import figure2_png, figure4_png, no_data_png, training_curves_png
from taco.reports.fused import FusedCheck, fused_below_best, fused_sentence
from taco.reports.html import html_page
from taco.reports.inputs import (ItemKey, ReportError, ReportInputs, Results, expected_items, load_paper_tables, read_json,
                                 read_probes, read_text_stats, results_from_files, results_from_mlflow)
from taco.reports.markdown import ReportContext, document, markdown_table, report_date, report_title
from taco.reports.metrics_file import metrics_summary
from taco.reports.summary import SUMMARY_FILE, summary_json, update_summary, verdict_summary
from taco.reports.tables import (build_tables, check_claims, probe_checks, render_retrieval_table, render_table14,
                                 table_runs)
from taco.reports.text_stats import IDF_DATASETS, render_figure4, render_table10
from taco.reports.transfer import (figure2_checks, figure2_data, figure2_probe_checks, render_figure2, render_table9,
                                   table9_results)
from taco.reports.targets import report_files
from taco.reports.verdicts import CLAIM_RULE
from taco.tracking import git_commit


def write_atomically(path: Path, content: str | bytes) -> None:
    """Never a half-written report."""
    write_bytes(path, content.encode() if isinstance(content, str) else content)


def write_reports(profile_path: Path, inputs: ReportInputs, out_dir: Path,
                  only: Sequence[str] | None = None) -> dict[str, str]:
    """Write every report, ``README.md``, ``metrics.json``, the HTML of each report (``html/``), the DVC
    metrics and plots (``metrics/``, ``plots/``) and ``summary.json`` under ``out_dir``; return file -> title.
    ``only``: the reports (``table3``, ``figure2``) whose files alone are written (``summary.json`` updated)."""
    unknown = sorted(set(only or ()) - set(experiments.REPORT_NAMES))
    if unknown:
        raise ReportError(f"unknown report {', '.join(unknown)} (known: {', '.join(experiments.REPORT_NAMES)})")
    profile = profiles.load_profile(profile_path)
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
    fused = fused_below_best(results, profiles.unique_runs(profile))
    sizes = read_json(inputs.model_sizes_path) if inputs.model_sizes_path.is_file() else None
    text_stats = read_text_stats(inputs.results_dir)
    curves = training_curves(profile, inputs.results_dir, expected)
    below = below_plateau(profile)
    convergence = {table: convergence_section(table_runs(data), below) for table, data in tables.items()}

    selected = set(profiles.selected_runs(profile))
    reports = {f"{table}.md": render_retrieval_table(data, context, checks[table], sizes, selected,
                                                     against_probe[table], fused if table == "table11" else None,
                                                     convergence[table])
               for table, data in tables.items()}
    reports["table10.md"] = render_table10(paper_tables, context, text_stats)
    reports["table14.md"] = render_table14(paper_tables, context, sizes, selected)
    reports["figure3.md"] = render_figure3(paper_tables, context, read_retrievals(profile, inputs.results_dir))
    figure2 = figure2_data(profile, results)
    checks["figure2"] = figure2_checks(figure2)
    against_probe["figure2"] = figure2_probe_checks(figure2, probes)
    reports["figure2.md"] = render_figure2(paper_tables, context, figure2, checks["figure2"], probes,
                                           against_probe["figure2"])
    table9_found = table9_results(profile, inputs.results_dir)
    reports["table9.md"] = render_table9(paper_tables, context, table9_found)
    reports["figure4.md"] = render_figure4(paper_tables, context, text_stats)
    reports["training_curves.md"] = render_training_curves(context, curves)
    titles = {name: report_title(name, paper_tables)
              for name in [*tables, "table9", "table10", "table14", "figure2", "figure3", "figure4"]}
    index = {name: titles.get(name.removesuffix(".md"), CURVES_TITLE) for name in reports}
    figures = {
        "figure4.png": figure4_png(text_stats) if any(d in text_stats for d in IDF_DATASETS)
        else no_data_png("Figure 4: no token statistics yet"),
        "training_curves.png": training_curves_png(curves) if curves else no_data_png("no training log yet"),
        "figure2.png": figure2_png(figure2) if any(cell.seeds for cells in figure2.values() for cell in cells.values())
        else no_data_png("Figure 2: no zero-shot result yet"),
    }

    out_dir = Path(out_dir)
    files: dict[str, str | bytes] = {**figures, **reports}
    files["README.md"] = render_readme(context, index, checks, results, expected, against_probe, fused,
                                       sorted((t for t, section in convergence.items() if section), key=_report_order))
    files["metrics.json"] = json.dumps(metrics_summary(tables), indent=2, sort_keys=True) + "\n"
    for name in [*reports, "README.md"]:
        images = {image: figures[image] for image in figures if f"]({image})" in files[name]}
        files[f"html/{name.removesuffix('.md')}.html"] = html_page(files[name], images)
    dvc_metrics = {**{table: retrieval_metrics(data) for table, data in tables.items()},
                   "table9": table9_metrics(table9_found), "figure2": figure2_metrics(figure2, probes)}
    files.update({f"metrics/{table}.json": metrics_json(values) for table, values in dvc_metrics.items()})
    for table in CURVE_TABLES:
        files.update(table_curves(table, profile, inputs.results_dir, expected))
    files[PAPER_VS_OURS] = paper_vs_ours(tables)
    verdicts = verdict_summary(checks)
    if only:
        wanted = {f for name in only for f in report_files(name)}
        files = {name: content for name, content in files.items() if name in wanted}
        files[SUMMARY_FILE] = update_summary(out_dir / SUMMARY_FILE, {t: verdicts[t] for t in only if t in verdicts},
                                             context.profile_name)
        index = {name: title for name, title in index.items() if name in wanted}
    else:
        files[SUMMARY_FILE] = summary_json(verdicts, context.profile_name)
    for name, content in files.items():
        write_atomically(out_dir / name, content)
    return index


def _report_order(name: str) -> tuple[int, str]:
    number = re.search(r"\d+", name)
    return (int(number.group()) if number else 1_000_000, name)


def verdict_counts(verdicts: Sequence[str]) -> str:
    """``reproduced: 2, inconclusive: 1`` (verdicts in a fixed order), or ``—`` without any."""
    return ", ".join(f"{verdict}: {verdicts.count(verdict)}" for verdict in VERDICTS if verdict in verdicts) or "—"


def render_readme(context: ReportContext, index: Mapping[str, str], checks: Mapping[str, list[ClaimCheck]],
                  results: Results, expected: Mapping[ItemKey, str],
                  against_probe: Mapping[str, Sequence[ProbeCheck]], fused: tuple[int, Sequence[FusedCheck]],
                  below_plateau: Sequence[str] = ()) -> str:
    """The index of every report with each table's verdicts (claims, their comparisons, rows against the
    probe), the reports with runs below their validation plateau, the runs whose fused score is below a
    stage, and the absent results."""
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
        ("Some rows are below their validation plateau at the profile's schedule (a comparison against them "
         "measures under-training too): see \"Below their validation plateau\" in "
         + ", ".join(f"[{t}.md]({t}.md)" for t in below_plateau) + ".") if below_plateau else "",
        fused_sentence(*fused) + " See [table11.md](table11.md).",
        "Means of every reproduced cell: [metrics.json](metrics.json) (`dvc metrics show`). The same tables can be "
        "rebuilt from MLflow: `python -m taco report --from-mlflow ...`; browse the runs with `mlflow ui "
        "--backend-store-uri sqlite:///mlflow.db`.",
        document("## Missing or stale results", "\n".join(absent)) if absent else "")
