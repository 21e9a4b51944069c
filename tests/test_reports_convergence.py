"""taco.reports.convergence: the runs a report shows below their validation plateau, from the schedule
sweep's record (the format taco.sweep writes: per stage the chosen steps, each representative's plateau
and its validation curve)."""
import json
from pathlib import Path

import pytest

from taco import profiles
from taco.experiments import Run
from taco.reports.convergence import below_plateau, convergence_section
from taco.reports.inputs import ReportError

ROOT = Path(__file__).resolve().parents[1]


def default_profile(sweep: Path | None) -> dict:
    """params/default.yaml (from scratch and pretraining 1600 steps, finetuning 200) with ``sweep``."""
    profile = profiles.load_profile(ROOT / "params" / "default.yaml")
    profile.pop("schedule_sweep", None)
    return {**profile, "schedule_sweep": str(sweep)} if sweep else profile


def sweep_record(tmp_path: Path) -> Path:
    record = {
        "scratch": {"steps": 1600, "plateaus": {"youcook2__r152__v1__taco": 1600, "youcook2__r152__v1__l3_random": None},
                    "curves": {"youcook2__r152__v1__taco": {"800": 140.0, "1600": 150.0, "3200": 151.0},
                               "youcook2__r152__v1__l3_random": {"800": 70.0, "1600": 90.0, "3200": 126.0}}},
        "pretrain": {"steps": 3200, "plateaus": {"howto100m__s3d_hm__v4__l1": 3200},
                     "curves": {"howto100m__s3d_hm__v4__l1": {"1600": 50.0}}},
        "finetune": {"steps": 200, "plateaus": {"youcook2__s3d_hm__v4__taco__ft": 200},
                     "curves": {"youcook2__s3d_hm__v4__taco__ft": {"200": 130.0, "400": 131.0}}},
    }
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(record))
    return path


def test_representatives_beyond_their_stage_schedule_are_found(tmp_path):
    found = below_plateau(default_profile(sweep_record(tmp_path)))
    # the profile trains 1600 steps from scratch and for pretraining, 200 when finetuning: taco plateaus
    # at 1600 and finetuning at 200, so only L3 alone (no plateau) and the pretraining representative
    # (plateau 3200, never run at 3200) are below
    assert [(b.stage, b.setting, b.steps, b.at_steps, b.doubled) for b in found] == [
        ("scratch", "l3_random", 1600, 90.0, 126.0), ("pretrain", "l1", 1600, 50.0, None)]


def test_section_lists_the_report_runs_of_each_setting_and_stage(tmp_path):
    found = below_plateau(default_profile(sweep_record(tmp_path)))
    runs = [Run.parse(run_id) for run_id in ("msrvtt_split1__s3d_hm__v1__l3_random", "youcook2__r152__v1__l3_random",
                                             "youcook2__r152__v1__taco", "howto100m__s3d_hm__v4__l3_random",
                                             "youcook2__s3d_hm__v4__l3_random__ft", "howto100m__s3d_hm__v4__l1")]
    section = convergence_section(runs, found)
    lines = [line for line in section.splitlines() if line.startswith("| `")]
    assert lines == [
        # +40 % = (126 - 90) / 90; the finetuned and pretrained L3 runs are other stages
        "| `l3_random` (scratch) | `youcook2__r152__v1__l3_random` | 1600 | 90.0 | 126.0 (+40 %) | "
        "`msrvtt_split1__s3d_hm__v1__l3_random`, `youcook2__r152__v1__l3_random` |",
        "| `l1` (pretrain) | `howto100m__s3d_hm__v4__l1` | 1600 | 50.0 | not run | `howto100m__s3d_hm__v4__l1` |"]
    assert convergence_section([Run.parse("youcook2__r152__v1__taco")], found) == ""


def test_profile_without_a_sweep_flags_nothing_and_bad_files_are_named(tmp_path):
    assert below_plateau(default_profile(None)) == []
    with pytest.raises(ReportError, match="missing.json"):
        below_plateau(default_profile(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scratch": {"steps": 1600, "plateaus": {"youcook2__r152__v1__l3_random": None}}}))
    with pytest.raises(ReportError, match="bad.json.*scratch"):
        below_plateau(default_profile(bad))


def test_the_committed_sweep_record_reads_as_its_own_plateaus_say():
    path = ROOT / "docs" / "schedule_sweep.json"
    record = json.loads(path.read_text())
    trained = {"scratch": 1600, "pretrain": 1600, "finetune": 200}  # params/default.yaml
    expected = sorted((stage, run_id) for stage, values in record.items() for run_id, plateau in values["plateaus"].items()
                      if plateau is None or plateau > trained[stage])
    found = below_plateau(default_profile(path))
    assert sorted((b.stage, b.representative) for b in found) == expected
    assert ("scratch", "youcook2__r152+s3d_hm__v1__l3_random") in expected  # the L3-only baseline (docs/schedule.md)


def test_default_profile_names_the_committed_sweep():
    # the workflow's report rule reads it (and reruns when it changes)
    assert (ROOT / profiles.load_profile(ROOT / "params" / "default.yaml")["schedule_sweep"]).is_file()
