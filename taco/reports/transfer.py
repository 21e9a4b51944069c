"""Reports of the pretrained models that are not retrieval tables: Figure 2 (zero-shot retrieval after
pretraining with each Table 3 loss setting) and Table 9 (CrossTask step localization, COIN
segmentation). Table 8 is a retrieval table (``taco.reports.tables``)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from taco import experiments, profiles
from taco.reports.cells import CellResult, ProbeCheck, cell_result, check_against_probe
from taco.reports.claims import (Claim, ClaimCheck, ComparisonCheck, RowRef, Summary, claim_verdict, comparison_verdict,
                                 median_mde, metric_value, paired_interval)
from taco.reports.inputs import ProbeResult, Probes, Results, read_result, result_path
from taco.reports.markdown import (COLUMN_NAMES, ReportContext, document, format_mean_std, format_paper, markdown_table,
                                   report_title)
from taco.reports.verdicts import CLAIM_RULE, INTERVAL_HEADER, interval_cells, mde_statement, probe_section

FIGURE2_METRIC = "rsum"
FIGURE2_COLUMNS = ("youcook2", "msrvtt")
SCORE_LABELS = {setting: f"score-{i}" for i, setting in enumerate(experiments.FIGURE2_SETTINGS, 1)}

Figure2 = dict[str, dict[str, CellResult]]
"""setting -> column -> zero-shot results over seeds."""


def figure2_data(profile: dict, results: Results) -> Figure2:
    selected = set(profiles.selected_runs(profile))
    return {row.key["setting"]: {column: cell_result(cell, profile, results, selected)
                                 for column, cell in row.cells.items()}
            for row in experiments.TABLES["figure2"]}


def seed_summary(result: CellResult, metric: str) -> Summary | None:
    """Mean ± std over seeds of a metric (``rsum`` included) of a cell; None without results."""
    values = [metric_value(seed, metric) for seed in result.seeds]
    return Summary.of(values) if values else None


def figure2_checks(data: Figure2) -> list[ClaimCheck]:
    """"Our proposed contrastive losses gradually improve the performance" (paper 4.4, Figure 2): each
    setting beats the previous one, on each dataset, by the paired bootstrap of the retrieval tables
    (a difference of R-sums; no ratio here). The paper plots, not tabulates, its numbers."""
    def measured(ref: RowRef):
        return data[dict(ref.labels)["setting"]][ref.column].per_query or None

    checks = []
    settings = list(data)
    for column in FIGURE2_COLUMNS:
        comparisons = []
        for worse, better in zip(settings, settings[1:]):
            a, b = (RowRef("figure2", column, (("setting", setting),)) for setting in (better, worse))
            interval = paired_interval(a, b, measured, FIGURE2_METRIC, "higher")
            comparisons.append(ComparisonCheck(a, b, interval, math.nan, math.nan, comparison_verdict(interval)))
        claim = Claim("figure2", f"each loss setting improves zero-shot {COLUMN_NAMES.get(column, column)} over the "
                                 "previous one (score-1 < ... < score-5)",
                      tuple((c.better, c.worse) for c in comparisons), FIGURE2_METRIC)
        checks.append(ClaimCheck(claim, tuple(comparisons), claim_verdict([c.verdict for c in comparisons]), True))
    return checks


def figure2_probe_checks(data: Figure2, probes: Probes) -> list[ProbeCheck]:
    """Each setting's zero-shot model against the zero-shot probe (fitted on the pretraining corpus)."""
    return [check_against_probe(column, f"setting={setting}", cells[column], probes)
            for column in FIGURE2_COLUMNS for setting, cells in data.items() if cells[column].in_profile]


def _figure2_claims(checks: Sequence[ClaimCheck]) -> str:
    blocks = ["## Claim of the paper",
              "\"Our proposed contrastive losses gradually improve the performance, and combining all techniques "
              "achieves the best performance\" (section 4.4; the paper plots Figure 2 without numbers).",
              CLAIM_RULE, mde_statement(median_mde(checks))]
    for check in checks:
        body = [[c.better.labels[0][1], c.worse.labels[0][1], *interval_cells(c.interval, c.verdict)]
                for c in check.comparisons]
        blocks += [f"### {check.claim.description} (R@1+R@5+R@10): **{check.verdict}**",
                   markdown_table(["A", "B", *INTERVAL_HEADER], body)]
    return document(*blocks)


def render_figure2(paper_tables: dict, context: ReportContext, data: Figure2, checks: Sequence[ClaimCheck],
                   probes: Probes, against_probe: Sequence[ProbeCheck]) -> str:
    body = []
    for setting, cells in data.items():
        line = [SCORE_LABELS[setting], f"`{setting}`"]
        for column in FIGURE2_COLUMNS:
            for metric in ("r1", "r5", "r10", "mr"):
                summary = seed_summary(cells[column], metric)
                line.append(format_mean_std(summary.mean, summary.std, summary.n) if summary else "missing")
        body.append(line)
    probe_line = ["probe (model-free), fitted on " + experiments.PRETRAIN_DATASET, "—"]
    for column in FIGURE2_COLUMNS:
        found = probes.get(experiments.cell_probe(next(iter(data.values()))[column].cell))
        probe_line += [format_mean_std(found.metrics[m], 0.0, 1) if isinstance(found, ProbeResult) else "missing"
                       for m in ("r1", "r5", "r10", "mr")]
    body.append(probe_line)
    header = ["score", "pretraining setting (Table 3)",
              *[f"{COLUMN_NAMES.get(c, c)} {m}" for c in FIGURE2_COLUMNS for m in ("R@1", "R@5", "R@10", "MR")]]
    return document(context.header(report_title("figure2", paper_tables)),
                    "Each Table 3 loss setting pretrains a model on the HowTo100M-like corpus (4 video layers); the "
                    "model is then evaluated zero-shot on the YouCook2-like test set and MSR-VTT-like split2 "
                    "(JSFusion) test set, text to video, mean ± std over seeds.",
                    "![Figure 2](figure2.png)", markdown_table(header, body), _figure2_claims(checks),
                    probe_section(against_probe))


# ---------------------------------------------------------------------------------------------
# Table 9: CrossTask and COIN
# ---------------------------------------------------------------------------------------------

TABLE9_FIELDS = {"crosstask": "recall", **{f"coin_{mode}": "frame_accuracy" for mode in experiments.COIN_MODES}}
"""Downstream evaluation -> the number Table 9 reads from its JSON (percent)."""


def table9_results(profile: dict, results_dir: Path) -> dict[str, tuple[list[dict], dict[int, str]]]:
    """evaluation -> (per-seed result JSONs found, seed -> why absent); a result counts only when it
    was computed from the run's current configuration with the profile's current ``downstream`` settings."""
    found: dict[str, tuple[list[dict], dict[int, str]]] = {}
    selected = set(profiles.selected_runs(profile))
    for row in experiments.TABLES["table9"]:
        for evaluation, cell in row.cells.items():
            if cell.run not in selected:
                continue
            seeds, absent = [], {}
            for seed in profiles.run_seeds(profile, cell.run.id):
                data = read_result(result_path(results_dir, cell.run.id, seed, evaluation),
                                   profiles.run_config(profile, cell.run.id, seed).hash())
                if isinstance(data, str):
                    absent[seed] = data
                    continue
                settings = profile["downstream"][experiments.DOWNSTREAM_RELEASES[evaluation]]
                changed = sorted(key for key, value in settings.items() if data.get(key) != value)
                if changed:
                    absent[seed] = f"stale (downstream.{experiments.DOWNSTREAM_RELEASES[evaluation]}: {', '.join(changed)})"
                    continue
                seeds.append(data)
            found[evaluation] = (seeds, absent)
    return found


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return "missing"
    summary = Summary.of(values)
    return format_mean_std(summary.mean, summary.std, summary.n)


def render_table9(paper_tables: dict, context: ReportContext, found: Mapping[str, tuple[list[dict], dict[int, str]]]) -> str:
    paper = paper_tables["table9"]
    body = [[row["method"], format_paper(row.get("crosstask")), format_paper(row.get("coin")), "", "", ""]
            for row in paper["rows"] if row["method"] != "taco"]
    ours = {evaluation: [seed[field] for seed in found.get(evaluation, ([], {}))[0]]
            for evaluation, field in TABLE9_FIELDS.items()}
    taco = next(row for row in paper["rows"] if row["method"] == "taco")
    body.append(["TACo", format_paper(taco.get("crosstask")), format_paper(taco.get("coin")),
                 _mean_std(ours["crosstask"]), _mean_std(ours["coin_linear_probe"]), _mean_std(ours["coin_finetune"])])
    background = [seed["background_only_accuracy"] for seed in found.get("coin_linear_probe", ([], {}))[0]]
    crosstask_seeds = found.get("crosstask", ([], {}))[0]
    per_task = {}
    for seed in crosstask_seeds:
        for task, recall in seed["per_task"].items():
            per_task.setdefault(task, []).append(recall)
    absent = sorted(f"- {evaluation} seed {seed}: {reason}" for evaluation, (_, missing) in found.items()
                    for seed, reason in missing.items())
    return document(
        context.header(report_title("table9", paper_tables)),
        "Ours: the TACo model pretrained on the HowTo100M-like corpus (S3D-HM features, 4 video layers), one "
        "pretrained model per seed, mean ± std over seeds. CrossTask: average recall over the primary tasks "
        "(per-second early-stage scores x_t . y_k, the official dynamic program; each seed also draws the training "
        "videos). COIN: frame accuracy over all test seconds, background included, of a linear layer on the "
        "video encoder's tokens trained with the encoder frozen (linear probe) or trained with it (finetune).",
        markdown_table(["method", "CrossTask recall paper", "COIN accuracy paper", "CrossTask recall ours",
                        "COIN accuracy ours (linear probe)", "COIN accuracy ours (finetune)"], body),
        f"Reference: predicting background for every second gives COIN accuracy {_mean_std(background)}."
        if background else "",
        document("## CrossTask recall per task",
                 markdown_table(["task", "recall ours"], [[task, _mean_std(values)] for task, values in sorted(per_task.items())]))
        if per_task else "",
        "No claim of Table 9 compares our own rows: the paper compares TACo with peer methods only.",
        document("## Missing results", "\n".join(absent)) if absent else "")
