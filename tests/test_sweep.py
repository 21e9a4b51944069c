"""The schedule sweep: the plateau rule and validation-only training."""
import json

from taco import config
from taco.sweep import Candidate, plateau_steps, validation_rsum
from taco.train import train


def test_plateau_is_the_smallest_length_whose_doubling_moves_less_than_three_percent():
    # 400 -> 800: +25 %; 800 -> 1600: +5 %; 1600 -> 3200: +2 % (< 3 %): the plateau is 1600.
    assert plateau_steps({400: 100.0, 800: 125.0, 1600: 131.25, 3200: 133.9}) == 1600
    # A drop counts as a move too; no doubling within tolerance gives None.
    assert plateau_steps({400: 100.0, 800: 90.0, 1600: 80.0}) is None
    assert plateau_steps({400: 100.0, 800: 102.9}) == 400
    assert plateau_steps({400: 100.0}) is None


def test_candidate_overrides_set_warmup_and_evaluations_from_the_length():
    overrides = Candidate(800, 3e-3, True).overrides()
    assert "optim.iterations=800" in overrides and "optim.warmup=80" in overrides
    assert "optim.eval_every=100" in overrides and "model.norm_first=True" in overrides


def test_sweep_training_never_evaluates_the_test_split(tiny_config, tmp_path):
    cfg = config.from_dict(tiny_config)
    result = train(cfg, tmp_path / "run", progress=False, track=False, evaluate_test=False)
    assert result["test"] == {} and result["per_query"] == {} and result["has_test_split"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"] == {}
    # the sweep ranks schedules by the score that selects the checkpoint (best validation of the run)
    log = (tmp_path / "run" / "val_log.jsonl").read_text().splitlines()
    best = max(json.loads(line)["selection_score"] for line in log)
    assert validation_rsum(result) == best
