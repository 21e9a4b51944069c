"""A thin MLflow window on a run: params, tags, step metrics, final metrics; files stay the truth.

The tracking URI is ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``. A run directory remembers
its MLflow run id, so a resumed job keeps logging into the same MLflow run. MLflow is imported only
when tracking is enabled, so the library works without it.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def flatten(values: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class Tracker:
    def __init__(self, run_dir: Path, params: dict, tags: dict, experiment: str = "taco", enabled: bool = True):
        self.run_dir = Path(run_dir)
        self.params = flatten(params)
        self.tags = {**{k: str(v) for k, v in tags.items()}, "git_commit": git_commit()}
        self.experiment = experiment
        self.enabled = enabled
        self._run_id = None

    @property
    def _id_file(self) -> Path:
        return self.run_dir / "mlflow_run.json"

    def start(self) -> None:
        if not self.enabled:
            return
        import mlflow

        mlflow.set_tracking_uri(tracking_uri())
        client = mlflow.tracking.MlflowClient()
        if self._id_file.is_file():
            self._run_id = json.loads(self._id_file.read_text())["run_id"]
            client.update_run(self._run_id, status="RUNNING")
            return
        experiment = client.get_experiment_by_name(self.experiment)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(self.experiment)
        run = client.create_run(experiment_id, tags=self.tags, run_name=self.tags.get("run_name"))
        self._run_id = run.info.run_id
        for key, value in self.params.items():
            client.log_param(self._run_id, key, value)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._id_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"run_id": self._run_id, "tracking_uri": tracking_uri()}))
        os.replace(tmp, self._id_file)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if not self.enabled:
            return
        import mlflow
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        batch = [Metric(key, float(value), timestamp, step or 0) for key, value in metrics.items()]
        mlflow.tracking.MlflowClient().log_batch(self._run_id, metrics=batch)

    def finish(self, status: str = "FINISHED") -> None:
        if not self.enabled or self._run_id is None:
            return
        import mlflow

        mlflow.tracking.MlflowClient().set_terminated(self._run_id, status=status)
