"""A thin MLflow window on a run: params, tags, step metrics, final metrics; files stay the truth.

The tracking URI is ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``. A fresh SQLite store cannot
be created by several processes at once, so a client (whose creation creates a fresh store's tables)
is made under an inter-process file lock (``store_lock_path``): jobs started together by hand are
safe; the workflow still runs ``init_tracking_store`` once before its jobs start. Every call to the
store is retried with backoff while SQLite reports the database busy or locked. A run directory
remembers its MLflow run id, so a resumed job keeps logging into the same MLflow run; a rerun of the
same configuration in a fresh directory makes a new MLflow run, and readers keep only the latest
FINISHED run per config hash (``latest_finished_runs``). MLflow is imported only when tracking is
used, so the library works without it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

from taco.atomic import write_json

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "taco"
RUN_ID_FILE = "mlflow_run.json"
"""In a run directory: the MLflow run id a resumed run continues."""
BUSY_MARKERS = ("database is locked", "database is busy", "database table is locked")

logger = logging.getLogger("taco.tracking")
T = TypeVar("T")


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


def is_busy_error(error: BaseException) -> bool:
    """Whether ``error`` (or an exception it was raised from) is SQLite reporting a busy or locked database."""
    while error is not None:
        if any(marker in str(error).lower() for marker in BUSY_MARKERS):
            return True
        error = error.__cause__ or error.__context__
    return False


def retry_when_busy(call: Callable[..., T], *args, attempts: int = 10, base_delay: float = 0.05, **kwargs) -> T:
    """``call(*args, **kwargs)``, retried with jittered exponential backoff while the store is busy or locked."""
    for attempt in range(attempts - 1):
        try:
            return call(*args, **kwargs)
        except Exception as error:  # MLflow wraps SQLAlchemy's OperationalError in an MlflowException
            if not is_busy_error(error):
                raise
            delay = base_delay * 2 ** attempt * (1 + random.random())
            logger.warning("tracking store busy (%s); retry %d/%d in %.2f s", error, attempt + 1, attempts - 1, delay)
            time.sleep(delay)
    return call(*args, **kwargs)


def store_lock_path(uri: str) -> Path:
    """The inter-process lock of the store at ``uri``: beside a SQLite file, else in the temp folder."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///") + ".lock")
    return Path(tempfile.gettempdir()) / f"taco-mlflow-{hashlib.sha256(uri.encode()).hexdigest()[:16]}.lock"


def _client():
    """A client of the store; made under the store's file lock, since making the first client of a fresh
    store creates its tables, which concurrent processes cannot do at once."""
    from mlflow.tracking import MlflowClient

    with FileLock(store_lock_path(tracking_uri())):
        return MlflowClient(tracking_uri=tracking_uri())


def _experiment_id(client, name: str) -> str:
    """The id of experiment ``name``, created when missing (a concurrent creation by another job is fine)."""
    from mlflow.exceptions import MlflowException

    experiment = retry_when_busy(client.get_experiment_by_name, name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return retry_when_busy(client.create_experiment, name)
    except MlflowException:
        experiment = retry_when_busy(client.get_experiment_by_name, name)
        if experiment is None:
            raise
        return experiment.experiment_id


def init_tracking_store(experiment: str = EXPERIMENT) -> str:
    """Create the tracking store (tables, schema migrations) and the experiment; return the experiment id.

    The workflow runs it once before parallel jobs start. Idempotent: a store and experiment that
    already exist are left as they are.
    """
    return _experiment_id(_client(), experiment)


@dataclass(frozen=True)
class FinishedRun:
    """The latest FINISHED MLflow run of one configuration: its tags and the last value of each metric."""

    mlflow_run_id: str
    end_time: int
    tags: dict[str, str]
    metrics: dict[str, float]


def latest_finished_runs(experiment: str = EXPERIMENT, job: str = "train") -> dict[str, FinishedRun]:
    """The latest FINISHED run of kind ``job`` (``train`` or ``evaluate``) per ``config_hash`` tag: reruns
    of one configuration count once. Empty when the experiment does not exist."""
    from mlflow.entities import ViewType

    client = _client()
    found = retry_when_busy(client.get_experiment_by_name, experiment)
    if found is None:
        return {}
    latest: dict[str, FinishedRun] = {}
    query = f"attributes.status = 'FINISHED' and tags.job = '{job}'"
    page_token = None
    while True:
        page = retry_when_busy(client.search_runs, [found.experiment_id], filter_string=query,
                               run_view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=page_token)
        for run in page:
            config_hash = run.data.tags.get("config_hash")
            if config_hash is None:
                continue
            candidate = FinishedRun(run.info.run_id, run.info.end_time or 0, dict(run.data.tags),
                                    dict(run.data.metrics))
            current = latest.get(config_hash)
            order = (candidate.end_time, candidate.mlflow_run_id)
            if current is None or order > (current.end_time, current.mlflow_run_id):
                latest[config_hash] = candidate
        page_token = page.token
        if not page_token:
            return latest


class Tracker:
    """Logs one job to MLflow; every call is a no-op when ``enabled`` is False.

    ``job`` (tag ``job``) is the kind of job: ``train`` or ``evaluate``. ``run_dir``, when given,
    records the MLflow run id so that a resumed job logs into the same run.
    """

    def __init__(self, run_dir: Path | None, params: dict, tags: dict, experiment: str = EXPERIMENT,
                 enabled: bool = True, job: str = "train"):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.params = flatten(params)
        self.tags = {**{k: str(v) for k, v in tags.items()}, "job": job, "git_commit": git_commit()}
        self.experiment = experiment
        self.enabled = enabled
        self._run_id = None
        self._pending: list[tuple[str, float, int, int]] = []

    @property
    def _id_file(self) -> Path | None:
        return self.run_dir / RUN_ID_FILE if self.run_dir is not None else None

    def _resumable_run_id(self, client) -> str | None:
        """The MLflow run recorded in the run directory, when it still exists in the current tracking store."""
        from mlflow.exceptions import MlflowException

        if self._id_file is None or not self._id_file.is_file():
            return None
        recorded = json.loads(self._id_file.read_text())
        if recorded.get("tracking_uri") != tracking_uri():
            return None
        try:
            retry_when_busy(client.get_run, recorded["run_id"])
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return None
        return recorded["run_id"]

    def start(self) -> None:
        if not self.enabled:
            return
        from mlflow.entities import Param

        client = _client()
        self._run_id = self._resumable_run_id(client)
        if self._run_id is not None:
            retry_when_busy(client.update_run, self._run_id, status="RUNNING")
            return
        experiment_id = _experiment_id(client, self.experiment)
        run = retry_when_busy(client.create_run, experiment_id, tags=self.tags, run_name=self.tags.get("run_name"))
        self._run_id = run.info.run_id
        params = [Param(key, str(value)) for key, value in self.params.items()]
        for start in range(0, len(params), 100):  # MLflow accepts at most 100 params per batch
            retry_when_busy(client.log_batch, self._run_id, params=params[start:start + 100])
        if self._id_file is None:
            return
        write_json(self._id_file, {"run_id": self._run_id, "tracking_uri": tracking_uri()})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Queue metrics; they reach MLflow at the next ``flush`` (the trainer flushes at every
        checkpoint, so a resumed run replays and logs again whatever a crash lost) or ``finish``."""
        if not self.enabled:
            return
        timestamp = int(time.time() * 1000)
        self._pending += [(key, float(value), timestamp, step or 0) for key, value in metrics.items()]

    def flush(self) -> None:
        """Send the queued metrics in batches (one SQLite transaction per 1000, not one per step)."""
        if not self.enabled or not self._pending:
            return
        from mlflow.entities import Metric

        client = _client()
        batch = [Metric(*values) for values in self._pending]
        for start in range(0, len(batch), 1000):  # MLflow accepts at most 1000 metrics per batch
            retry_when_busy(client.log_batch, self._run_id, metrics=batch[start:start + 1000])
        self._pending = []

    def finish(self, status: str = "FINISHED") -> None:
        if not self.enabled or self._run_id is None:
            return
        self.flush()
        retry_when_busy(_client().set_terminated, self._run_id, status=status)
