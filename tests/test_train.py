"""Trainer: determinism, resume after kill -9, validation-only selection, bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from taco import config
from taco.train import batch_indices, seed_step, train, warmup_linear_decay


def run_cfg(values, **overrides):
    return config.from_dict(config.apply_overrides(values, [f"{k}={v}" for k, v in overrides.items()]))


def test_same_seed_gives_identical_metrics_and_another_seed_differs(tiny_config, tmp_path):
    first = train(run_cfg(tiny_config), tmp_path / "a", progress=False, track=False)
    second = train(run_cfg(tiny_config), tmp_path / "b", progress=False, track=False)
    assert first["test"] == second["test"]
    assert (tmp_path / "a" / "train_log.jsonl").read_text() == (tmp_path / "b" / "train_log.jsonl").read_text()
    other = train(run_cfg(tiny_config, **{"optim.seed": 1}), tmp_path / "c", progress=False, track=False)
    assert (tmp_path / "c" / "train_log.jsonl").read_text() != (tmp_path / "a" / "train_log.jsonl").read_text()
    assert other["config_hash"] != first["config_hash"]


def test_checkpoint_selected_on_validation_never_test(tiny_config, tmp_path):
    result = train(run_cfg(tiny_config), tmp_path / "run", progress=False, track=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == list(range(1, 13))
    assert result["best_step"] in (6, 12)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert best["step"] == result["best_step"]
    # The validation captions come from held-out training videos, disjoint from the test videos.
    from taco.data.retrieval import split_clips
    splits = split_clips(run_cfg(tiny_config))
    val_videos = {c.video_id for c in splits["val"]}
    assert val_videos and not val_videos & {c.video_id for c in splits["test"]}
    assert not val_videos & {c.video_id for c in splits["train"]}


def test_resume_after_kill_ends_with_the_same_metrics(tiny_config, tmp_path):
    values = {**tiny_config, "optim": {**tiny_config["optim"], "iterations": 60, "checkpoint_every": 5,
                                       "eval_every": 20}}
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(values))

    def command(run_dir):
        return [sys.executable, "-m", "taco", "train", "--config", str(cfg_file), "--out", str(run_dir),
                "--no-mlflow", "--quiet"]

    subprocess.run(command(tmp_path / "reference"), check=True, capture_output=True, timeout=300)
    reference = json.loads((tmp_path / "reference" / "metrics.json").read_text())

    run_dir = tmp_path / "killed"
    cmd = command(run_dir)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (run_dir / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert saved["state"]["step"] < 60, "the kill should land before the run ends"
    assert not (run_dir / "metrics.json").exists()

    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    resumed = json.loads((run_dir / "metrics.json").read_text())
    assert resumed["test"] == reference["test"]
    assert resumed["best_step"] == reference["best_step"]
    steps = [json.loads(line)["step"] for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 61))


def test_step_seeding_draws_what_torch_manual_seed_draws():
    """The cheap per-step reseed gives the CPU draws (dropout) of ``torch.manual_seed`` with the step's seed,
    different per step and per run seed."""
    draws = {}
    for seed, step in [(0, 0), (0, 1), (3, 0)]:
        torch.manual_seed(12345)  # any other state
        assert seed_step(seed, step, torch.device("cpu")) == seed * 1_000_003 + step
        draws[seed, step] = torch.nn.functional.dropout(torch.ones(64), 0.5)
        torch.manual_seed(seed * 1_000_003 + step)
        assert torch.equal(draws[seed, step], torch.nn.functional.dropout(torch.ones(64), 0.5))
    assert not torch.equal(draws[0, 0], draws[0, 1]) and not torch.equal(draws[0, 0], draws[3, 0])


def test_checkpoint_of_another_config_is_refused(tiny_config, tmp_path):
    train(run_cfg(tiny_config), tmp_path / "run", progress=False, track=False)
    with pytest.raises(ValueError, match="another configuration"):
        train(run_cfg(tiny_config, **{"loss.lambda_t": 0.25}), tmp_path / "run", progress=False, track=False)


def test_feature_width_mismatch_names_the_problem(tiny_config, tmp_path):
    from taco.data.retrieval import RetrievalData
    from taco.train import build_model

    cfg = run_cfg(tiny_config)
    data = RetrievalData(cfg)
    model = build_model(cfg, data.video_dim + 3)
    batch = data.train_batch([0, 1])
    with pytest.raises(ValueError, match="width"):
        model.encode_video(batch["video"], batch["video_mask"])


def test_schedule_and_batches():
    factor = warmup_linear_decay(4, 10)
    assert [round(factor(s), 4) for s in range(11)] == [0.25, 0.5, 0.75, 1.0, 1.0, 0.8333, 0.6667, 0.5, 0.3333,
                                                          0.1667, 0.0]
    epoch0 = [batch_indices(10, 3, seed=0, step=s) for s in range(3)]
    flat = sorted(i for b in epoch0 for i in b.tolist())
    assert len(set(flat)) == 9  # one epoch never repeats an item
    assert (batch_indices(10, 3, 0, 4) == batch_indices(10, 3, 0, 4)).all()
    assert sorted(batch_indices(10, 5, 0, 0).tolist() + batch_indices(10, 5, 0, 1).tolist()) == list(range(10))
    assert batch_indices(10, 5, 0, 0).tolist() != batch_indices(10, 5, 1, 0).tolist()
    with pytest.raises(ValueError, match="exceeds"):
        batch_indices(4, 8, 0, 0)


def test_metrics_json_holds_per_query_values_and_the_validation_curve(tiny_config, tmp_path):
    result = train(run_cfg(tiny_config), tmp_path / "run", progress=False, track=False)
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert on_disk["queries"] == list(range(on_disk["test_captions"]))
    for score in ("early", "token", "later", "fused"):
        values = on_disk["per_query"][score]
        assert len(values["r5"]) == on_disk["test_captions"]
        assert abs(sum(values["r5"]) / len(values["r5"]) - result["test"][f"{score}/t2v_r5"]) < 1e-3
    val_log = [json.loads(line) for line in (tmp_path / "run" / "val_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in val_log] == [6, 12]   # eval_every 6 of 12 steps
    best = max(val_log, key=lambda entry: entry["selection_score"])
    assert best["step"] == result["best_step"] and best["fused/t2v_r1"] == result["val"]["fused/t2v_r1"]


def test_all_pairs_test_scores_the_same_query_subset_with_unchanged_ranks(tiny_config, tmp_path):
    from taco.data.retrieval import RetrievalData
    from taco.evaluate import evaluated_queries
    from taco.train import evaluate_split, load_run

    cfg = run_cfg(tiny_config, **{"loss.use_l1": False, "loss.use_l2": False, "loss.negatives": "random",
                                  "loss.tokens_of_interest": "none"})
    train(cfg, tmp_path / "run", progress=False, track=False)
    _, model = load_run(tmp_path / "run", [])
    data = RetrievalData(cfg)
    everything = evaluate_split(model, data, "test", cfg, "cpu")
    capped = config.from_dict(config.apply_overrides(cfg.to_dict(), ["eval.all_pairs_queries=4"]))
    subset = evaluate_split(model, data, "test", capped, "cpu")
    n = len(everything["queries"])
    assert n > 4 and len(subset["queries"]) == 4 and subset["queries"] == sorted(subset["queries"])
    assert subset["queries"] == evaluated_queries(n, capped.loss, capped.eval).tolist()
    # A text query's rank among all videos does not depend on which other queries are scored.
    full_ranks = everything["per_query"]["fused"]["rank"]
    assert subset["per_query"]["fused"]["rank"] == [full_ranks[i] for i in subset["queries"]]
    # A re-ranked model (early stage trained) is always scored on every query.
    assert len(evaluated_queries(n, run_cfg(tiny_config).loss, capped.eval)) == n


def log_steps(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


def test_fresh_start_truncates_an_old_log(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "train_log.jsonl").write_text("".join(json.dumps({"step": s, "loss": 9.0}) + "\n" for s in range(1, 10)))
    train(run_cfg(tiny_config), run_dir, progress=False, track=False)
    assert log_steps(run_dir) == list(range(1, 13))


def test_torn_last_log_line_is_dropped_with_a_warning_when_resuming(tiny_config, tmp_path, caplog):
    run_dir = tmp_path / "run"
    first = train(run_cfg(tiny_config), run_dir, progress=False, track=False)
    with open(run_dir / "train_log.jsonl", "a") as fh:
        fh.write('{"step": 13, "lo')  # a write cut short by a crash
    with caplog.at_level("WARNING", logger="taco.train"):
        resumed = train(run_cfg(tiny_config), run_dir, progress=False, track=False)
    assert resumed["test"] == first["test"]
    assert log_steps(run_dir) == list(range(1, 13))
    assert any("train_log.jsonl" in r.getMessage() and "torn last line" in r.getMessage() for r in caplog.records)


def test_corrupt_log_line_before_the_last_names_file_and_line(tmp_path):
    from taco.train import truncate_log

    log = tmp_path / "train_log.jsonl"
    log.write_text('{"step": 1}\n{"step": 2, "lo\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"train_log\.jsonl': line 2 is not JSON"):
        truncate_log(log, 3)
