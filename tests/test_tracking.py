"""MLflow window: store initialisation, busy retries, 16 writers on a fresh store, 8 concurrent writers, resume,
latest finished run per config; per-profile experiments, parent runs per setting, artifacts, run names."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taco import tracking

pytest.importorskip("mlflow")

WRITERS = 8
STEPS = 15

# One job: a Tracker that logs STEPS step metrics one call at a time (many small write transactions),
# then final test metrics, then finishes; it waits for a start signal so that all jobs write at once.
WORKER = """
import sys, time
from pathlib import Path
from taco.tracking import Tracker
index, run_root, go_file, steps = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
tracker = Tracker(run_root / f"job{index}", {"optim": {"seed": index, "lr": 1e-4}},
                  {"run_id": f"job{index}", "seed": index, "config_hash": f"hash{index}", "table": "table2",
                   "run_name": f"job{index}/seed{index}"})
while not go_file.exists():
    time.sleep(0.01)
tracker.start()
for step in range(1, steps + 1):
    tracker.log_metrics({"train/loss": 1.0 / step + index, "train/lr": step * 1e-5}, step=step)
tracker.log_metrics({"test/fused/t2v_r1": float(index)}, step=steps)
tracker.finish()
"""


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> str:
    """One SQLite store for the module (creating one costs seconds); tests use their own experiments."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def experiment(shared_store, monkeypatch, request) -> str:
    """A fresh experiment name in the shared store, which is the tracking URI of the test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared_store)
    return request.node.name


def client():
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking.tracking_uri())


def test_tracking_uri_default_and_override(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    assert tracking.tracking_uri() == "sqlite:////tmp/elsewhere.db"


def test_busy_errors_are_recognised_through_exception_chains():
    try:
        try:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        except RuntimeError as inner:
            raise ValueError("store temporarily unavailable") from inner
    except ValueError as outer:
        assert tracking.is_busy_error(outer)
    assert not tracking.is_busy_error(ValueError("UNIQUE constraint failed: experiments.name"))


def test_retry_when_busy_retries_busy_errors_only():
    calls = []

    def flaky(value):
        calls.append(value)
        if len(calls) < 3:
            raise RuntimeError("database is locked")
        return value * 2

    assert tracking.retry_when_busy(flaky, 21, base_delay=0.0) == 42
    assert len(calls) == 3

    calls.clear()

    def broken():
        calls.append(1)
        raise KeyError("not a lock")

    with pytest.raises(KeyError):
        tracking.retry_when_busy(broken, base_delay=0.0)
    assert len(calls) == 1

    def always_locked():
        calls.append(1)
        raise RuntimeError("database is locked")

    calls.clear()
    with pytest.raises(RuntimeError, match="locked"):
        tracking.retry_when_busy(always_locked, attempts=4, base_delay=0.0)
    assert len(calls) == 4


def test_init_tracking_store_is_idempotent(experiment, shared_store):
    first = tracking.init_tracking_store(experiment)
    assert Path(shared_store.removeprefix("sqlite:///")).is_file()
    assert tracking.init_tracking_store(experiment) == first
    assert client().get_experiment_by_name(experiment).experiment_id == first


def run_workers(tmp_path: Path, count: int, steps: int) -> None:
    """``count`` WORKER processes released at once; each must succeed."""
    go_file = tmp_path / "go"
    jobs = [subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(tmp_path / "runs"), str(go_file), str(steps)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(count)]
    time.sleep(0.5)
    go_file.touch()
    outputs = [job.communicate(timeout=300)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0] * count, "\n".join(outputs)


def test_sixteen_jobs_on_a_fresh_store_keep_every_run(tmp_path, monkeypatch):
    """No init_tracking_store first (jobs started by hand): the store lock lets all 16 create the store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'fresh.db'}")
    run_workers(tmp_path, 16, steps=1)
    experiment = client().get_experiment_by_name(tracking.EXPERIMENT)
    runs = client().search_runs([experiment.experiment_id], max_results=100)
    assert sorted(run.data.tags["config_hash"] for run in runs) == sorted(f"hash{i}" for i in range(16))
    assert {run.info.status for run in runs} == {"FINISHED"}


def test_eight_concurrent_jobs_lose_nothing(tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    tracking.init_tracking_store()
    run_workers(tmp_path, WRITERS, STEPS)

    mlflow_client = client()
    experiment = mlflow_client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = mlflow_client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) == WRITERS
    by_hash = {run.data.tags["config_hash"]: run for run in runs}
    assert set(by_hash) == {f"hash{i}" for i in range(WRITERS)}
    for i in range(WRITERS):
        run = by_hash[f"hash{i}"]
        assert run.info.status == "FINISHED"
        assert run.data.tags["run_id"] == f"job{i}" and run.data.tags["seed"] == str(i)
        assert run.data.tags["table"] == "table2" and run.data.tags["job"] == "train" and "git_commit" in run.data.tags
        assert run.info.run_name == f"job{i} · seed {i}"
        assert run.data.params == {"optim.seed": str(i), "optim.lr": "0.0001"}
        losses = mlflow_client.get_metric_history(run.info.run_id, "train/loss")
        assert sorted(m.step for m in losses) == list(range(1, STEPS + 1))
        assert {m.step: m.value for m in losses} == {s: 1.0 / s + i for s in range(1, STEPS + 1)}
        assert len(mlflow_client.get_metric_history(run.info.run_id, "train/lr")) == STEPS
        assert run.data.metrics["test/fused/t2v_r1"] == float(i)
        recorded = json.loads((tmp_path / "runs" / f"job{i}" / "mlflow_run.json").read_text())
        assert recorded == {"run_id": run.info.run_id, "tracking_uri": store}


def make_tracker(run_dir: Path | None, config_hash: str, experiment: str, run_id: str = "r",
                 job: str = "train") -> tracking.Tracker:
    return tracking.Tracker(run_dir, {"lr": 1.0}, {"config_hash": config_hash, "run_id": run_id, "seed": 0},
                            experiment=experiment, job=job)


def test_resumed_job_logs_into_the_same_run(experiment, tmp_path):
    first = make_tracker(tmp_path / "run", "h", experiment)
    first.start()
    first.log_metrics({"train/loss": 2.0}, step=1)
    first.finish("FAILED")  # killed job
    resumed = make_tracker(tmp_path / "run", "h", experiment)
    resumed.start()
    resumed.log_metrics({"train/loss": 1.0}, step=2)
    resumed.finish()
    runs = client().search_runs([client().get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert [m.value for m in client().get_metric_history(runs[0].info.run_id, "train/loss")] == [2.0, 1.0]


@pytest.mark.parametrize("recorded_uri", ["store", "sqlite:////elsewhere/mlflow.db"])
def test_run_id_unknown_to_the_store_starts_a_new_run(experiment, shared_store, tmp_path, recorded_uri):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    uri = shared_store if recorded_uri == "store" else recorded_uri
    (run_dir / "mlflow_run.json").write_text(json.dumps({"run_id": "0" * 32, "tracking_uri": uri}))
    tracker = make_tracker(run_dir, "h", experiment)
    tracker.start()
    tracker.finish()
    recorded = json.loads((run_dir / "mlflow_run.json").read_text())["run_id"]
    assert recorded != "0" * 32
    assert client().get_run(recorded).info.status == "FINISHED"


def test_latest_finished_run_per_config_hash(experiment, tmp_path):
    assert tracking.latest_finished_runs(experiment) == {}  # no experiment yet
    plan = [("a", "old", "FINISHED", 1.0, "train"), ("a", "new", "FINISHED", 2.0, "train"),
            ("a", "crashed", "FAILED", 3.0, "train"), ("a", "running", None, 4.0, "train"),
            ("b", "only", "FINISHED", 5.0, "train"), ("a", "evaluation", "FINISHED", 6.0, "evaluate")]
    for config_hash, name, status, value, job in plan:
        tracker = make_tracker(tmp_path / name, config_hash, experiment, run_id=name, job=job)
        tracker.start()
        tracker.log_metrics({"test/fused/t2v_r1": value}, step=10)
        if status:
            tracker.finish(status)
        time.sleep(0.01)  # distinct end times
    latest = tracking.latest_finished_runs(experiment)
    assert set(latest) == {"a", "b"}
    assert latest["a"].tags["run_id"] == "new" and latest["a"].metrics == {"test/fused/t2v_r1": 2.0}
    assert latest["b"].tags["run_id"] == "only" and latest["b"].metrics == {"test/fused/t2v_r1": 5.0}
    evaluations = tracking.latest_finished_runs(experiment, job="evaluate")
    assert set(evaluations) == {"a"} and evaluations["a"].tags["run_id"] == "evaluation"


def test_tracker_without_run_dir_records_nothing(experiment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(None, "h", experiment, job="evaluate")
    tracker.start()
    tracker.log_metrics({"test/fused/t2v_r1": 1.0}, step=0)
    tracker.finish()
    assert list(tmp_path.iterdir()) == []
    assert set(tracking.latest_finished_runs(experiment, job="evaluate")) == {"h"}


def test_disabled_tracker_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    tracker = tracking.Tracker(tmp_path / "run", {"a": 1}, {"config_hash": "h"}, enabled=False)
    tracker.start()
    tracker.log_metrics({"x": 1.0}, step=1)
    tracker.finish()
    assert not (tmp_path / "never.db").exists() and not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------
# Per-profile experiments, run names, parent runs per setting, artifacts
# ---------------------------------------------------------------------------------------------

RUN_ID = "youcook2__r152+s3d_hm__v1__taco"


def test_run_names_fit_the_runs_table():
    tags = {"run_id": RUN_ID, "seed": 0}
    assert tracking.run_name(tags) == "youcook2 · r152+s3d_hm · v1 · taco · seed 0"
    assert tracking.setting_name(tags) == "youcook2 · r152+s3d_hm · v1 · taco"
    assert tracking.run_name({**tags, "split": "test", "overrides": "eval.fusion=full"}, "evaluate") == \
        "youcook2 · r152+s3d_hm · v1 · taco · seed 0 · evaluate test eval.fusion=full"
    coin = {"run_id": RUN_ID, "train_seed": 1, "seed": 0, "task": "coin"}
    assert tracking.run_name(coin, "coin", {"coin.mode": "finetune"}) == \
        "youcook2 · r152+s3d_hm · v1 · taco · seed 1 · coin finetune seed 0"
    assert tracking.run_name({"run_name": "by hand"}) == "by hand"


def test_one_experiment_per_profile_with_its_description_as_note(shared_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared_store)
    for profile, tags, note, checkpoints in [
            ("tagged", {"profile_description": "carried by the config tags", "mlflow_log_checkpoints": True},
             "carried by the config tags", True),
            ("bare", {}, None, False)]:
        tracker = tracking.Tracker(None, {}, {"profile": profile, "config_hash": profile, **tags})
        assert (tracker.experiment, tracker.note, tracker.log_checkpoints) == (f"taco-{profile}", note, checkpoints)
        tracker.start()
        tracker.finish()
        experiment = client().get_experiment_by_name(f"taco-{profile}")
        assert experiment.tags.get("mlflow.note.content") == note
        assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"  # UI: runs table
        assert [r.info.run_id for r in client().search_runs([experiment.experiment_id])] == [tracker.run_id]
    # Runs of every profile's experiment are read under the family name; a profile-less job logs to "taco".
    assert {"tagged", "bare"} <= set(tracking.latest_finished_runs())


def test_run_configs_carry_the_profile_description_and_checkpoint_setting():
    from taco import profiles

    profile = profiles.load_profile("params/default.yaml")
    run_id = profiles.unique_runs(profile)[0]
    tags = profiles.run_config(profile, run_id, 0).tags
    assert tracking.profile_settings(tags) == (profile["description"], False)
    profile["tracking"]["log_checkpoints"] = True
    assert tracking.profile_settings(profiles.run_config(profile, run_id, 0).tags)[1] is True


def test_curves_png_is_deterministic(tmp_path):
    train_log, val_log = tmp_path / "train_log.jsonl", tmp_path / "val_log.jsonl"
    train_log.write_text("".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in range(1, 30)))
    val_log.write_text("".join(json.dumps({"step": s, "selection_score": s / 10}) + "\n" for s in (10, 20, 29)))
    first = tracking.curves_png(train_log, val_log, tmp_path / "a.png", "title").read_bytes()
    assert first.startswith(b"\x89PNG") and first == tracking.curves_png(train_log, val_log, tmp_path / "b.png", "title").read_bytes()
    assert first != tracking.curves_png(train_log, val_log, tmp_path / "c.png", "other").read_bytes()


def seed_configs(tiny_config, tmp_path, profile="unit") -> list[str]:
    """``train`` arguments of a two-seed job of one run id, as the workflow writes them."""
    import yaml

    arguments = []
    for seed in (0, 1):
        values = {**tiny_config, "optim": {**tiny_config["optim"], "seed": seed},
                  "tags": {"run_id": RUN_ID, "seed": seed, "setting": "taco", "run_name": f"{RUN_ID}/seed{seed}",
                           "profile": profile, "profile_description": f"the {profile} profile"}}
        path = tmp_path / f"seed{seed}.yaml"
        path.write_text(yaml.safe_dump(values))
        arguments += ["--config", str(path), "--out", str(tmp_path / "runs" / f"seed{seed}")]
    return arguments


def experiment_runs(name: str) -> list:
    experiment = client().get_experiment_by_name(name)
    return client().search_runs([experiment.experiment_id], max_results=100) if experiment else []


def test_a_training_job_nests_its_seeds_under_one_parent_and_a_killed_job_reattaches(
        tiny_config, tmp_path, monkeypatch):
    """A job killed before its second seed, then run again: one parent run with two children, each with its
    artifacts; the parent holds the mean over seeds of the test metrics."""
    import taco.train
    from taco.cli import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)  # artifacts: ./mlruns
    arguments = ["train", "--quiet", *seed_configs(tiny_config, tmp_path)]
    real_train = taco.train.train

    def killed_before_the_second_seed(cfg, *args, **kwargs):
        if cfg.optim.seed == 1:
            raise KeyboardInterrupt
        return real_train(cfg, *args, **kwargs)

    monkeypatch.setattr(taco.train, "train", killed_before_the_second_seed)
    with pytest.raises(KeyboardInterrupt):
        main(arguments)
    runs = experiment_runs("taco-unit")
    assert sorted((r.data.tags["job"], r.info.status) for r in runs) == [("setting", "FAILED"), ("train", "FINISHED")]
    assert (tmp_path / "runs" / "seed1" / "mlflow_parent.json").is_file()   # recorded before the seed started

    monkeypatch.setattr(taco.train, "train", real_train)
    assert main(arguments) == 0
    assert main(arguments) == 0   # a rerun of a finished job adds no run either
    runs = experiment_runs("taco-unit")
    parents = [r for r in runs if r.data.tags["job"] == "setting"]
    children = sorted((r for r in runs if r.data.tags["job"] == "train"), key=lambda r: int(r.data.tags["seed"]))
    assert len(runs) == 3 and len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "youcook2 · r152+s3d_hm · v1 · taco"
    assert "optim.seed" not in parent.data.params and parent.data.params["loss.lambda_t"] == children[0].data.params["loss.lambda_t"]
    assert [c.info.run_name for c in children] == [f"youcook2 · r152+s3d_hm · v1 · taco · seed {s}" for s in (0, 1)]
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id and c.info.status == "FINISHED" for c in children)
    experiment = client().get_experiment_by_name("taco-unit")
    assert experiment.tags["mlflow.note.content"] == "the unit profile"

    results = [json.loads((tmp_path / "runs" / f"seed{s}" / "metrics.json").read_text()) for s in (0, 1)]
    for key in ("fused/t2v_r1", "fused/t2v_r10", "token/t2v_mr"):
        assert parent.data.metrics[f"test/{key}"] == pytest.approx((results[0]["test"][key] + results[1]["test"][key]) / 2)
        assert children[1].data.metrics[f"test/{key}"] == results[1]["test"][key]
    assert parent.data.metrics["seeds"] == 2
    assert set(tracking.latest_finished_runs()) == {r["config_hash"] for r in results}   # parents are never read

    for seed, child in enumerate(children):
        names = sorted(a.path for a in client().list_artifacts(child.info.run_id))
        assert names == ["config.yaml", "curves.png", "metrics.json", "train_log.jsonl", "val_log.jsonl"]
        local = Path(client().download_artifacts(child.info.run_id, "config.yaml", str(tmp_path / f"dl{seed}")))
        import yaml
        assert yaml.safe_load(local.read_text())["optim"]["seed"] == seed
        metrics = Path(client().download_artifacts(child.info.run_id, "metrics.json", str(tmp_path / f"dl{seed}")))
        assert json.loads(metrics.read_text()) == results[seed]

    assert main([*arguments, "--log-checkpoints"]) == 0   # checkpoints only when asked
    assert "best.pt" in {a.path for a in client().list_artifacts(children[0].info.run_id)}
    assert len(experiment_runs("taco-unit")) == 3


def test_disabled_parent_run_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    parent = tracking.ParentRun([tmp_path / "a"], {"optim": {"seed": 0}}, {"run_id": RUN_ID}, enabled=False)
    assert parent.start() is None
    means = parent.finish_seeds([{"test": {"x": 1.0}}, {"test": {"x": 3.0}}])
    assert means == {"test/x": 2.0, "seeds": 2.0}
    assert not (tmp_path / "never.db").exists() and not (tmp_path / "a").exists()
