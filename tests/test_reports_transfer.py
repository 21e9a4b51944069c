"""Figure 2 and Table 9 reports (``taco.reports.transfer``) on hand-made results."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from taco import experiments, profiles
from taco.paired import SeedQueries
from taco.reports import figures, inputs, transfer, verdicts
from taco.reports.cells import CellResult
from taco.reports.claims import INCONCLUSIVE, MISSING, NOT_REPRODUCED, REPRODUCED
from taco.reports.markdown import ReportContext

REPO = Path(__file__).resolve().parents[1]
CONTEXT = ReportContext("2024-01-02", "abc1234", "default", "params/default.yaml", True, "metrics files")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# Figure 2
# ---------------------------------------------------------------------------------------------

def seed_metrics(level: int, seed: int) -> dict[str, float]:
    """R@1+R@5+R@10 = 16 + 10 * level + 3 * seed: over seeds 0..2, mean 19 + 10 * level, std 3."""
    return {"r1": 1 + 2 * level + seed, "r5": 5 + 3 * level + seed, "r10": 10 + 5 * level + seed, "mr": 50 - level}


QUERIES = 12


def seed_values(level: int, seed: int) -> SeedQueries:
    """Per-query values whose means are ``seed_metrics``: R@1 varies by query (-1, 0, +1), the same at every level."""
    wobble = np.arange(QUERIES) % 3 - 1.0
    metrics = seed_metrics(level, seed)
    return SeedQueries(np.arange(QUERIES), {"r1": metrics["r1"] + wobble, "r5": np.full(QUERIES, metrics["r5"] * 1.0),
                                            "r10": np.full(QUERIES, metrics["r10"] * 1.0),
                                            "rank": np.full(QUERIES, metrics["mr"] * 1.0)})


# Setting i has level i on YouCook2; on MSR-VTT l1_l3_random and l1_l3_cascade are swapped.
LEVELS = {"youcook2": [0, 1, 2, 3, 4], "msrvtt": [0, 1, 3, 2, 4]}


def cell(level: int, seeds) -> dict:
    return {"seeds": [seed_metrics(level, s) for s in seeds], "per_query": {s: seed_values(level, s) for s in seeds}}


def figure2_data(seeds=(0, 1, 2)) -> transfer.Figure2:
    data = {}
    for index, row in enumerate(experiments.TABLES["figure2"]):
        data[row.key["setting"]] = {column: CellResult(c, absent={}, in_profile=True,
                                                              **cell(LEVELS[column][index], seeds))
                                    for column, c in row.cells.items()}
    return data


def test_figure2_rows_are_the_five_settings_in_order():
    data = figure2_data()
    assert list(data) == list(experiments.FIGURE2_SETTINGS)
    assert all(set(cells) == set(transfer.FIGURE2_COLUMNS) for cells in data.values())


def test_figure2_checks_one_column_reproduced_the_other_reversed():
    youcook2, msrvtt = transfer.figure2_checks(figure2_data())
    assert youcook2.verdict == REPRODUCED and msrvtt.verdict == NOT_REPRODUCED
    assert "YouCook2" in youcook2.claim.description and "MSR-VTT" in msrvtt.claim.description
    settings = list(experiments.FIGURE2_SETTINGS)
    for check in (youcook2, msrvtt):
        assert [(c.worse.labels, c.better.labels) for c in check.comparisons] == [
            ((("setting", worse),), (("setting", better),)) for worse, better in itertools.pairwise(settings)]
    # Paired by seed and query, the per-query R-sum differs by exactly 10 x the level difference.
    for check, levels in ((youcook2, LEVELS["youcook2"]), (msrvtt, LEVELS["msrvtt"])):
        for c, (worse, better) in zip(check.comparisons, itertools.pairwise(levels)):
            diff = 10.0 * (better - worse)
            assert (c.interval.estimate, c.interval.low, c.interval.high) == pytest.approx((diff, diff, diff))
            assert (c.interval.seeds, c.interval.queries) == (3, QUERIES)
            assert math.isnan(c.paper_better) and math.isnan(c.paper_worse)   # Figure 2 has no numbers
    assert [c.verdict for c in youcook2.comparisons] == [REPRODUCED] * 4
    assert [c.verdict for c in msrvtt.comparisons] == [REPRODUCED, REPRODUCED, NOT_REPRODUCED, REPRODUCED]


def test_figure2_checks_single_seed_and_missing_cell():
    data = figure2_data()
    for key, value in cell(4, [0]).items():                                  # taco on YouCook2: seed 0 only
        setattr(data["taco"]["youcook2"], key, value)
    data["l1"]["msrvtt"].seeds, data["l1"]["msrvtt"].per_query = [], {}      # no finished run
    data["l1"]["msrvtt"].absent = {0: "missing", 1: "missing", 2: "missing"}
    youcook2, msrvtt = transfer.figure2_checks(data)
    assert [c.verdict for c in youcook2.comparisons] == [REPRODUCED] * 4     # paired on the one common seed
    assert youcook2.comparisons[-1].interval.seeds == 1
    assert msrvtt.comparisons[0].interval is None and msrvtt.comparisons[0].verdict == MISSING
    assert msrvtt.verdict == NOT_REPRODUCED                                  # a reversal outranks a missing run
    for setting, level in (("l1_l3_random", 2), ("l1_l3_cascade", 3)):        # undo the reversal
        for key, value in cell(level, range(3)).items():
            setattr(data[setting]["msrvtt"], key, value)
    msrvtt = transfer.figure2_checks(data)[1]
    assert [c.verdict for c in msrvtt.comparisons] == [MISSING] + [REPRODUCED] * 3 and msrvtt.verdict == MISSING


def test_figure2_png_is_a_png_even_with_missing_cells():
    data = figure2_data()
    assert figures.figure2_png(data).startswith(PNG_SIGNATURE)
    data["l1"]["msrvtt"].seeds = []
    assert figures.figure2_png(data).startswith(PNG_SIGNATURE)


def test_render_figure2_shows_scores_metrics_verdicts_and_the_probe():
    data = figure2_data()
    for key, value in cell(4, [0]).items():
        setattr(data["taco"]["youcook2"], key, value)
    data["l1"]["msrvtt"].seeds, data["l1"]["msrvtt"].per_query = [], {}
    probe = experiments.Probe("youcook2", "s3d_hm", zero_shot=True)
    # The probe's per-query R-sum is level 1's minus 5 (seed 0's values): l1 is below it, the others above.
    values = seed_values(1, 0)
    probes = {probe: inputs.ProbeResult({"r1": 1.5, "r5": 2.5, "r10": 3.5, "mr": 7.0},
                                        SeedQueries(values.queries, {**values.values, "r1": values.values["r1"] - 5}))}
    checks = transfer.figure2_checks(data)
    against = transfer.figure2_probe_checks(data, probes)
    text = transfer.render_figure2(inputs.load_paper_tables(), CONTEXT, data, checks, probes, against)
    assert text.startswith("# Figure 2: Zero-shot YouCook2")
    assert "commit `abc1234`" in text and "![Figure 2](figure2.png)" in text
    for score, setting in enumerate(experiments.FIGURE2_SETTINGS, 1):
        assert f"| score-{score} | `{setting}` |" in text
    # l1: r1 1,2,3; r5 5,6,7; r10 10,11,12; mr 50 on YouCook2, nothing on MSR-VTT.
    assert ("| score-1 | `l1` | 2.0 ± 1.0 | 6.0 ± 1.0 | 11.0 ± 1.0 | 50.0 ± 0.0 "
            "| missing | missing | missing | missing |") in text
    # taco on YouCook2 from seed 0 only (level 4): mean without spread.
    assert "| score-5 | `taco` | 9.0 | 17.0 | 30.0 | 46.0 | 10.0 ± 1.0 |" in text
    assert "| probe (model-free), fitted on howto100m | — | 1.5 | 2.5 | 3.5 | 7.0 | missing |" in text
    assert "(score-1 < ... < score-5) (R@1+R@5+R@10): **reproduced**" in text
    assert "| l3_random | l1 | missing | 0 | 0 | — | missing runs |" in text
    assert "| l1_l3_cascade | l1_l3_random | -10.0 [-10.0, -10.0] | 3 | 12 | 0.0 | not reproduced |" in text
    assert "| taco | l1_l3_cascade | +10.0 [+10.0, +10.0] | 1 | 12 | 0.0 | reproduced |" in text
    assert verdicts.CLAIM_RULE in text
    # Against the probe (YouCook2 only; the MSR-VTT probe is missing): seed s adds 3 s to every query.
    youcook2 = [c for c in against if c.column == "youcook2"]
    assert [c.interval.estimate for c in youcook2] == pytest.approx([5 - 10 + 3, 5 + 3, 5 + 10 + 3, 5 + 20 + 3, 5 + 30])
    assert "4 of 5 rows beat the probe on YouCook2, 0 fall below it (largest: setting=taco, +35.0 R-sum" in text
    assert youcook2[0].verdict == INCONCLUSIVE   # l1: -5, -2, +1 by seed
    assert all(c.verdict == MISSING for c in against if c.column == "msrvtt")


# ---------------------------------------------------------------------------------------------
# Table 9
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def profile() -> dict:
    profile = profiles.load_profile(REPO / "params" / "default.yaml")
    profile["seeds"] = [0, 1, 2]   # three seeds of the pretrained model, whatever the shipped default has
    return profile


def write_result(results: Path, run_id: str, seed: int, evaluation: str, data: dict) -> dict:
    path = inputs.result_path(results, run_id, seed, evaluation)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def test_table9_results_and_report(profile, tmp_path):
    cells = experiments.TABLES["table9"][0].cells
    assert set(cells) == {"crosstask", "coin_linear_probe", "coin_finetune"}
    run_id = cells["crosstask"].run.id
    assert all(cell.run.id == run_id for cell in cells.values())
    good = {seed: profiles.run_config(profile, run_id, seed).hash() for seed in profile["seeds"]}
    ct, coin = profile["downstream"]["crosstask"], profile["downstream"]["coin"]   # recorded by the jobs
    crosstask = [write_result(tmp_path, run_id, 0, "crosstask", {"config_hash": good[0], "recall": 30.0, **ct,
                                                                 "per_task": {"task_a": 20.0, "task_b": 40.0}}),
                 write_result(tmp_path, run_id, 1, "crosstask", {"config_hash": good[1], "recall": 34.0, **ct,
                                                                 "per_task": {"task_a": 24.0, "task_b": 44.0}})]
    write_result(tmp_path, run_id, 2, "crosstask", {"config_hash": "deadbeef", "recall": 99.0,
                                                    "per_task": {"task_a": 99.0, "task_b": 99.0}})
    probe = [write_result(tmp_path, run_id, seed, "coin_linear_probe",
                          {"config_hash": good[seed], "frame_accuracy": accuracy, "background_only_accuracy": 40.0,
                           **coin})
             for seed, accuracy in ((0, 50.0), (1, 56.0))]
    write_result(tmp_path, run_id, 2, "coin_linear_probe",   # the model is current, the COIN settings are not
                 {"config_hash": good[2], "frame_accuracy": 97.0, "background_only_accuracy": 40.0,
                  **coin, "iterations": coin["iterations"] + 1})
    finetune = [write_result(tmp_path, run_id, 0, "coin_finetune", {"config_hash": good[0], "frame_accuracy": 61.3,
                                                                    "background_only_accuracy": 40.0, **coin})]
    write_result(tmp_path, run_id, 1, "coin_finetune", {"config_hash": "cafe", "frame_accuracy": 1.0,
                                                        "background_only_accuracy": 40.0})

    found = transfer.table9_results(profile, tmp_path)

    def stale(seen: str, seed: int) -> str:
        return f"stale (config {seen}, expected {good[seed]})"

    assert found == {"crosstask": (crosstask, {2: stale("deadbeef", 2)}),
                     "coin_linear_probe": (probe, {2: "stale (downstream.coin: iterations)"}),
                     "coin_finetune": (finetune, {1: stale("cafe", 1), 2: "missing"})}

    text = transfer.render_table9(inputs.load_paper_tables(), CONTEXT, found)
    assert text.startswith("# Table 9: CrossTask action step localization")
    # CrossTask 30, 34 -> 32.0 ± 2.8 (std sqrt 8); COIN probe 50, 56 -> 53.0 ± 4.2; finetune one seed -> 61.3.
    assert "| TACo | 42.5 | 68.4 | 32.0 ± 2.8 | 53.0 ± 4.2 | 61.3 |" in text
    assert "| MIL-NCE | 40.5 | 61.0 |  |  |  |" in text and "| NN-Viterbi | — | 21.2 |" in text
    assert "predicting background for every second gives COIN accuracy 40.0 ± 0.0." in text
    assert "| task_a | 22.0 ± 2.8 |" in text and "| task_b | 42.0 ± 2.8 |" in text
    assert "99.0" not in text and "97.0" not in text                          # stale results are not read
    assert text.rstrip("\n").endswith("\n".join([
        "## Missing results", "",
        f"- coin_finetune seed 1: {stale('cafe', 1)}",
        "- coin_finetune seed 2: missing",
        "- coin_linear_probe seed 2: stale (downstream.coin: iterations)",
        f"- crosstask seed 2: {stale('deadbeef', 2)}"]))


def test_table9_without_results_or_outside_the_profile(profile, tmp_path):
    found = transfer.table9_results(profile, tmp_path)
    assert found == {evaluation: ([], {0: "missing", 1: "missing", 2: "missing"})
                     for evaluation in ("crosstask", "coin_linear_probe", "coin_finetune")}
    text = transfer.render_table9(inputs.load_paper_tables(), CONTEXT, found)
    assert "| TACo | 42.5 | 68.4 | missing | missing | missing |" in text
    assert "predicting background" not in text and "per task" not in text
    assert text.count(": missing\n") == 9

    no_pretraining = {**profile, "grid": {"datasets": ["youcook2"]}}
    assert transfer.table9_results(no_pretraining, tmp_path) == {}
    assert "Missing results" not in transfer.render_table9(inputs.load_paper_tables(), CONTEXT, {})
