"""Training curves: the loss per step of each Table 3 setting, from the runs' training logs."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from taco import experiments, paths, profiles
from taco.metrics import summarize_over_seeds
from taco.reports.inputs import ItemKey, ReportError, in_results
from taco.reports.markdown import COLUMN_NAMES, ReportContext, document, format_mean_std, markdown_table
from taco.run_logs import train_losses

CURVES_TITLE = "Training curves: loss per step of each Table 3 setting"
CURVE_TABLE = "table3"
"""The training curves show the loss of each Table 3 setting."""


def read_train_log(path: Path) -> dict[int, float]:
    """step -> loss of a run's ``train_log.jsonl``; errors (``ReportError``) name the file and the line."""
    return train_losses(path, error=ReportError)


Curves = dict[str, dict[str, dict[int, list[float]]]]
"""column -> setting -> step -> losses over seeds."""


def training_curves(profile: dict, results_dir: Path, expected: Mapping[ItemKey, str]) -> Curves:
    """The training loss of each Table 3 setting per column, from the runs' training logs."""
    curves: Curves = {}
    for row in experiments.TABLES[CURVE_TABLE]:
        for column, cell in row.cells.items():
            for seed in profiles.run_seeds(profile, cell.run.id):
                config_hash = expected.get((cell.run.id, seed, "train"))
                if config_hash is None:
                    continue
                log = in_results(results_dir, paths.run_work_dir(cell.run.id, seed, config_hash)) / "train_log.jsonl"
                if log.is_file():
                    for step, loss in read_train_log(log).items():
                        curves.setdefault(column, {}).setdefault(cell.run.setting, {}).setdefault(step, []).append(loss)
    return curves


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
