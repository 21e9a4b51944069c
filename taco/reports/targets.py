"""Where a profile's reports go and what each report reads: the workflow's ``report`` rule and its one-table
targets (``snakemake table3``) take their outputs and inputs from here."""
from __future__ import annotations

from taco import experiments, paths, profiles
from taco.reports.dvc_files import CURVE_TABLES, METRIC_TABLES, PAPER_VS_OURS
from taco.reports.summary import SUMMARY_FILE

DEFAULT_PROFILE = "default"
DEFAULT_REPORTS_DIR = "reports"
TABLE_ORDER = (*(name for name in experiments.REPORT_NAMES if name.startswith("table")),
               *(name for name in experiments.REPORT_NAMES if not name.startswith("table")))
"""Every report in the paper's order: Tables 2 to 14, then the figures and the training curves."""
TEXT_REPORTS = ("table10", "figure4")
SIZE_REPORTS = ("table13", "table14")
CURVE_REPORT_TABLE = "table3"     # taco.reports.curves: the training curves show Table 3's settings
INDEX_FILES = ("README.md", "html/README.html", "metrics.json", SUMMARY_FILE, PAPER_VS_OURS)
"""Files only the report of every table writes."""


def reports_dir(profile: dict) -> str:
    """``reports`` for the default profile (the committed reports), ``results/<profile>/reports`` for any other."""
    name = profile.get("profile", DEFAULT_PROFILE)
    return DEFAULT_REPORTS_DIR if name == DEFAULT_PROFILE else f"{paths.RESULTS_DIR}/{name}/reports"


def report_files(name: str) -> list[str]:
    """The files, relative to the reports folder, that the report of one table or figure writes."""
    files = [f"{name}.md", f"html/{name}.html"]
    if name in experiments.REPORT_FIGURES:
        files.append(f"{name}.png")
    if name in METRIC_TABLES:
        files.append(f"metrics/{name}.json")
    if name in CURVE_TABLES:
        files += [f"plots/{name}_val_curves.csv", f"plots/{name}_train_loss.csv"]
    return files


def all_report_files() -> list[str]:
    """Every file of the full report, relative to the reports folder, in the paper's order."""
    return [*INDEX_FILES, *(f for name in TABLE_ORDER for f in report_files(name))]


def _rows(name: str) -> list[experiments.Row]:
    table = CURVE_REPORT_TABLE if name == "training_curves" else name
    return experiments.TABLES.get(table, [])


def table_inputs(profile: dict, name: str) -> dict[str, list[str]]:
    """What the report of one table or figure reads: the training metrics of its runs (and of the pretrained
    runs its finetuned runs start from), their evaluations, the probes beside its cells, the model sizes,
    the caption statistics. Runs the profile does not select are left out (the report says so)."""
    selected = set(profiles.selected_runs(profile))
    rows = _rows(name)
    runs = [run for row in rows for run in row.runs() if run in selected]
    metrics = [paths.run_metrics_path(run.id, seed) for run in dict.fromkeys(runs)
               for seed in profiles.run_seeds(profile, run.id)]
    cells = {(cell.run.id, cell.evaluation) for row in rows for cell in row.cells.values() if cell.run in selected}
    evaluations = [paths.evaluation_path(run, seed, evaluation)
                   for run, seed, evaluation in profiles.evaluations(profile) if (run, evaluation) in cells]
    probes = {experiments.cell_probe(cell) for row in rows for cell in row.cells.values()
              if cell.run in selected and cell.evaluation in experiments.RETRIEVAL_EVALUATIONS}
    return {
        "metrics": list(dict.fromkeys(metrics)),
        "evaluations": evaluations,
        "probes": [paths.probe_path(p.id) for p in profiles.probe_jobs(profile) if p in probes],
        "sizes": [paths.MODEL_SIZES_PATH] if name in SIZE_REPORTS and profiles.size_runs(profile) else [],
        "text_stats": ([paths.text_stats_path(release) for release in profiles.text_stats_releases(profile)]
                       if name in TEXT_REPORTS else []),
    }


def target_name(name: str) -> str:
    """The workflow target of one report: its own name, except Figure 3 (``figure3`` is the rule of its
    retrievals): ``figure3_report``."""
    return "figure3_report" if name == "figure3" else name


CATEGORIES = {"index": "0. Overview", "table": "1. Tables", "figure": "2. Figures"}
"""Snakemake report categories, named so that its alphabetical menu keeps this order."""


def report_entry(file: str) -> dict | None:
    """How ``snakemake --report`` shows a file of the reports folder (``report(path, **entry)``): caption
    (``workflow/report/<name>.rst``), category and labels whose first one (``no.``) sorts in the paper's
    order; None for a file it does not show (markdown, JSON and CSV: their HTML or DVC show them)."""
    stem, _, extension = file.rpartition("/")[2].rpartition(".")
    if extension not in ("html", "png"):
        return None
    if stem == "README":
        return {"caption": "README.rst", "category": CATEGORIES["index"],
                "labels": {"no.": "00", "report": "Index of the reports", "format": extension.upper()}}
    kind = "table" if stem.startswith("table") else "figure"
    title = stem.replace("table", "Table ").replace("figure", "Figure ").replace("training_curves", "Training curves")
    return {"caption": f"{stem}.rst", "category": CATEGORIES[kind],
            "labels": {"no.": f"{TABLE_ORDER.index(stem) + 1:02d}", "report": title, "format": extension.upper()}}
