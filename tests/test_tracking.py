"""MLflow window: store initialisation, busy retries, 16 writers on a fresh store, 8 concurrent writers, resume, latest finished run per config."""
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
        assert run.info.run_name == f"job{i}/seed{i}"
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
