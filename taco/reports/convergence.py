"""Which runs of a report trained below their validation plateau at the profile's schedule.

The schedule sweep (``taco.sweep``; the profile's ``schedule_sweep`` file) records, per stage (from
scratch, pretraining, finetuning), each representative run's validation curve and plateau: the
fewest steps at which doubling them moves validation R-sum by less than 3 %, or none when even its
longest schedule did not get there. A representative whose plateau lies beyond the steps the profile
trains it for stands for its loss setting: every run of that setting and stage is a model still
below its plateau, and a comparison against it measures under-training as well as the method.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from taco import experiments, profiles
from taco.reports.inputs import ReportError, read_json
from taco.reports.markdown import document, markdown_table
from taco.sweep import STAGES, stage_of


@dataclass(frozen=True)
class BelowPlateau:
    """A sweep representative still rising at the profile's steps: its validation R-sum there and at twice
    the steps (None where the sweep did not train that long)."""

    stage: str
    setting: str
    representative: str
    steps: int
    at_steps: float | None
    doubled: float | None


def below_plateau(profile: Mapping) -> list[BelowPlateau]:
    """Every representative of the profile's schedule sweep whose plateau lies beyond the steps the
    profile trains it for (none without a ``schedule_sweep`` file)."""
    path = profile.get("schedule_sweep")
    if not path:
        return []
    if not Path(path).is_file():
        raise ReportError(f"schedule_sweep '{path}' of the profile does not exist (python -m taco.sweep writes it)")
    sweep = read_json(Path(path))
    found = []
    for stage in STAGES:
        record = sweep.get(stage)
        if record is None:
            continue
        try:
            for run_id, plateau in sorted(record["plateaus"].items()):
                steps = profiles.run_config(profile, run_id, 0).optim.iterations
                if plateau is not None and plateau <= steps:
                    continue
                curve = record["curves"][run_id]
                found.append(BelowPlateau(stage, experiments.Run.parse(run_id).setting, run_id, steps,
                                          curve.get(str(steps)), curve.get(str(2 * steps))))
        except (KeyError, TypeError, ValueError, experiments.ExperimentError) as err:
            raise ReportError(f"schedule_sweep '{path}', stage '{stage}': not a taco.sweep record ({err!r})") from err
    return found


def convergence_section(runs: Iterable[experiments.Run], below: Iterable[BelowPlateau]) -> str:
    """The report's runs whose setting and stage trained below the plateau, with the sweep's evidence."""
    runs = sorted(set(runs))
    rows = []
    for entry in below:
        affected = [run.id for run in runs if run.setting == entry.setting and stage_of(run) == entry.stage]
        if not affected:
            continue
        at_steps = "not run" if entry.at_steps is None else f"{entry.at_steps:.1f}"
        doubled = "not run" if entry.doubled is None else f"{entry.doubled:.1f}"
        if entry.at_steps is not None and entry.doubled is not None:
            doubled += f" ({100 * (entry.doubled - entry.at_steps) / entry.at_steps:+.0f} %)"
        rows.append([f"`{entry.setting}` ({entry.stage})", f"`{entry.representative}`", entry.steps, at_steps,
                     doubled, ", ".join(f"`{run_id}`" for run_id in affected)])
    if not rows:
        return ""
    return document(
        "## Below their validation plateau",
        "The schedule is chosen on validation once for every setting (the profile's `schedule_sweep`). These "
        "settings had not reached their plateau at it (doubling the steps moved their representative's "
        "validation R-sum by 3 % or more): their rows are under-trained, and a comparison against them "
        "measures that as well as the method.",
        markdown_table(["setting (stage)", "sweep representative", "steps", "validation R-sum",
                        "at twice the steps", "runs of this report"], rows))
