"""A thin MLflow window on a run: params, tags, step metrics, final metrics, artifacts; files stay the truth.

One experiment per params profile (``taco-<profile>``, the profile's ``description`` as its note; jobs
without a profile tag log to ``taco``). A training job makes one parent run per setting (run id,
``ParentRun``) with each seed's run nested under it (tag ``mlflow.parentRunId``); the parent logs the
mean over seeds of the final metrics. Run names read like the runs table:
``youcook2 · r152+s3d_hm · v1 · taco · seed 0``. docs/mlflow.md says what to click.

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

import yaml
from filelock import FileLock

from taco.atomic import write_json
from taco.run_logs import logged_series

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "taco"
"""The experiment of jobs without a profile tag, and the prefix of the per-profile ones (``taco-<profile>``)."""
RUN_ID_FILE = "mlflow_run.json"
"""In a run directory: the MLflow run id a resumed run continues."""
PARENT_FILE = "mlflow_parent.json"
"""In each seed's run directory: the MLflow run id of the setting's parent run, which a resumed job reattaches to."""
NOTE_TAG = "mlflow.note.content"
KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"  # the UI opens its runs table
PARENT_TAG = "mlflow.parentRunId"
NAME_SEPARATOR = " · "
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


def experiment_name(profile: str | None) -> str:
    """The experiment of a params profile: ``taco-<profile>``; ``taco`` without one."""
    return f"{EXPERIMENT}-{profile}" if profile else EXPERIMENT


def profile_settings(tags: dict) -> tuple[str | None, bool]:
    """(description, log_checkpoints) of the params profile, from a job's config tags
    ``profile_description`` and ``mlflow_log_checkpoints`` (set by ``profiles.run_config``)."""
    log_checkpoints = tags.get("mlflow_log_checkpoints", False)
    if isinstance(log_checkpoints, str):
        log_checkpoints = log_checkpoints.strip().lower() in ("1", "true", "yes")
    return tags.get("profile_description") or None, bool(log_checkpoints)


def run_name(tags: dict, job: str = "train", params: dict | None = None) -> str | None:
    """A run name that fits the runs table: the run id's parts and the seed, then the job.

    ``youcook2 · r152+s3d_hm · v1 · taco · seed 0`` (training), ``... · seed 0 · evaluate test``,
    ``... · seed 0 · coin linear_probe`` (a downstream job names its mode). Without a ``run_id`` tag:
    the ``run_name`` tag.
    """
    params = params or {}
    run_id = tags.get("run_id")
    if not run_id:
        return tags.get("run_name")
    seed = tags.get("train_seed", tags.get("seed"))
    name = NAME_SEPARATOR.join(str(run_id).split("__"))
    if seed is not None and seed != "":
        name += f"{NAME_SEPARATOR}seed {seed}"
    if job == "train":
        return name
    detail = [job]
    if job == "evaluate":
        detail += [str(tags.get("split", "")), str(tags.get("overrides", ""))]
    if params.get(f"{job}.mode"):
        detail.append(str(params[f"{job}.mode"]))
    if job != "evaluate" and tags.get("seed") not in (None, "", seed):
        detail.append(f"seed {tags['seed']}")
    return name + NAME_SEPARATOR + " ".join(part for part in detail if part)


def setting_name(tags: dict) -> str | None:
    """The parent run's name: the run id's parts, without the seed."""
    run_id = tags.get("run_id")
    return NAME_SEPARATOR.join(str(run_id).split("__")) if run_id else None


def _experiment_id(client, name: str, note: str | None = None) -> str:
    """The id of experiment ``name``, created when missing (a concurrent creation by another job is fine);
    ``note`` (the profile's description) becomes its note when given and different."""
    from mlflow.exceptions import MlflowException

    experiment = retry_when_busy(client.get_experiment_by_name, name)
    if experiment is None:
        try:
            retry_when_busy(client.create_experiment, name)
        except MlflowException:
            pass
        experiment = retry_when_busy(client.get_experiment_by_name, name)
        if experiment is None:
            raise MlflowException(f"experiment '{name}' could not be created")
    if note and experiment.tags.get(NOTE_TAG) != note:
        retry_when_busy(client.set_experiment_tag, experiment.experiment_id, NOTE_TAG, note)
    if KIND_TAG not in experiment.tags:
        retry_when_busy(client.set_experiment_tag, experiment.experiment_id, KIND_TAG, MODEL_TRAINING)
    return experiment.experiment_id


def init_tracking_store(experiment: str = EXPERIMENT, note: str | None = None) -> str:
    """Create the tracking store (tables, schema migrations) and the experiment; return the experiment id.

    The workflow runs it once before parallel jobs start. Idempotent: a store and experiment that
    already exist are left as they are (but for ``note``, set when given).
    """
    return _experiment_id(_client(), experiment, note)


@dataclass(frozen=True)
class FinishedRun:
    """The latest FINISHED MLflow run of one configuration: its tags and the last value of each metric."""

    mlflow_run_id: str
    end_time: int
    tags: dict[str, str]
    metrics: dict[str, float]


def _experiment_ids(client, experiment: str) -> list[str]:
    """Ids of experiment ``experiment`` and of its per-profile experiments ``<experiment>-<profile>``."""
    from mlflow.entities import ViewType

    found, page_token = [], None
    while True:
        page = retry_when_busy(client.search_experiments, view_type=ViewType.ACTIVE_ONLY, max_results=1000,
                               filter_string=f"name LIKE '{experiment}%'", page_token=page_token)
        found += [e.experiment_id for e in page if e.name == experiment or e.name.startswith(f"{experiment}-")]
        page_token = page.token
        if not page_token:
            return sorted(found)


def latest_finished_runs(experiment: str = EXPERIMENT, job: str = "train") -> dict[str, FinishedRun]:
    """The latest FINISHED run of kind ``job`` (``train`` or ``evaluate``) per ``config_hash`` tag: reruns
    of one configuration count once. Reads experiment ``experiment`` and its per-profile experiments
    (``taco`` reads ``taco`` and every ``taco-<profile>``); parent runs (job ``setting``) are never read.
    Empty when no such experiment exists."""
    from mlflow.entities import ViewType

    client = _client()
    experiment_ids = _experiment_ids(client, experiment)
    if not experiment_ids:
        return {}
    latest: dict[str, FinishedRun] = {}
    query = f"attributes.status = 'FINISHED' and tags.job = '{job}'"
    page_token = None
    while True:
        page = retry_when_busy(client.search_runs, experiment_ids, filter_string=query,
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


def _recorded_run(client, path: Path | None) -> str | None:
    """The MLflow run id recorded in ``path`` when it still exists in the current tracking store."""
    from mlflow.exceptions import MlflowException

    if path is None or not path.is_file():
        return None
    recorded = json.loads(path.read_text())
    if recorded.get("tracking_uri") != tracking_uri():
        return None
    try:
        retry_when_busy(client.get_run, recorded["run_id"])
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None
    return recorded["run_id"]


def _log_params(client, run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    batch = [Param(key, str(value)) for key, value in params.items()]
    for start in range(0, len(batch), 100):  # MLflow accepts at most 100 params per batch
        retry_when_busy(client.log_batch, run_id, params=batch[start:start + 100])


def curves_png(train_log: Path, val_log: Path, path: Path, title: str = "") -> Path:
    """A PNG of the training loss and the validation R-sum (selection score) against the step; the same
    logs give the same bytes (Agg, no timestamp or version in the file)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2), dpi=100)
    loss_axes, val_axes = figure.subplots(1, 2)
    loss_axes.plot(*logged_series(train_log, "loss"), linewidth=0.8)
    loss_axes.set(xlabel="step", ylabel="training loss", title="training loss")
    val_axes.plot(*logged_series(val_log, "selection_score"), marker="o", markersize=3)
    val_axes.set(xlabel="step", ylabel="R@1+R@5+R@10", title="validation R-sum")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


class Tracker:
    """Logs one job to MLflow; every call is a no-op when ``enabled`` is False.

    ``job`` (tag ``job``) is the kind of job: ``train`` or ``evaluate``. ``run_dir``, when given,
    records the MLflow run id so that a resumed job logs into the same run. ``experiment`` defaults to
    the experiment of the ``profile`` tag (``experiment_name``), whose note is the profile's
    description. ``parent_run_id`` nests the run under a setting's ``ParentRun``.
    """

    def __init__(self, run_dir: Path | None, params: dict, tags: dict, experiment: str | None = None,
                 enabled: bool = True, job: str = "train", parent_run_id: str | None = None):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.params = flatten(params)
        self.tags = {**{k: str(v) for k, v in tags.items()}, "job": job, "git_commit": git_commit()}
        self.note, self.log_checkpoints = profile_settings(tags)
        self.experiment = experiment or experiment_name(tags.get("profile"))
        self.name = run_name(tags, job, self.params)
        self.parent_run_id = parent_run_id
        if parent_run_id:
            self.tags[PARENT_TAG] = parent_run_id
        self.enabled = enabled
        self._run_id = None
        self._pending: list[tuple[str, float, int, int]] = []

    @property
    def run_id(self) -> str | None:
        """The MLflow run id, once started."""
        return self._run_id

    @property
    def _id_file(self) -> Path | None:
        return self.run_dir / RUN_ID_FILE if self.run_dir is not None else None

    def start(self) -> None:
        if not self.enabled:
            return
        client = _client()
        self._run_id = _recorded_run(client, self._id_file)
        if self._run_id is not None:
            retry_when_busy(client.update_run, self._run_id, status="RUNNING")
            if self.parent_run_id and retry_when_busy(client.get_run, self._run_id).data.tags.get(PARENT_TAG) != self.parent_run_id:
                retry_when_busy(client.set_tag, self._run_id, PARENT_TAG, self.parent_run_id)
            return
        experiment_id = _experiment_id(client, self.experiment, self.note)
        run = retry_when_busy(client.create_run, experiment_id, tags=self.tags, run_name=self.name)
        self._run_id = run.info.run_id
        _log_params(client, self._run_id, self.params)
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

    def log_training_artifacts(self, run_dir: Path, config: dict, log_checkpoint: bool | None = None) -> list[str]:
        """Artifacts of a finished training run: ``config.yaml`` (the resolved config), ``metrics.json``,
        ``train_log.jsonl``, ``val_log.jsonl``, ``curves.png`` and, when ``log_checkpoint`` (default: the
        profile's ``tracking.log_checkpoints``), ``best.pt``. Logging again replaces them. Returns
        the artifact names logged."""
        if not self.enabled or self._run_id is None:
            return []
        run_dir = Path(run_dir)
        log_checkpoint = self.log_checkpoints if log_checkpoint is None else log_checkpoint
        client = _client()
        logged = []
        with tempfile.TemporaryDirectory(prefix="taco-artifacts-") as scratch:
            scratch = Path(scratch)
            (scratch / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            curves_png(run_dir / "train_log.jsonl", run_dir / "val_log.jsonl", scratch / "curves.png", self.name or "")
            files = [scratch / "config.yaml"]
            files += [run_dir / name for name in ("metrics.json", "train_log.jsonl", "val_log.jsonl")]
            files += [scratch / "curves.png"] + ([run_dir / "best.pt"] if log_checkpoint else [])
            for path in files:
                if path.is_file():
                    retry_when_busy(client.log_artifact, self._run_id, str(path))
                    logged.append(path.name)
        return logged

    def finish(self, status: str = "FINISHED") -> None:
        if not self.enabled or self._run_id is None:
            return
        self.flush()
        retry_when_busy(_client().set_terminated, self._run_id, status=status)


class ParentRun:
    """The MLflow run of one setting (a run id), its seeds' training runs nested under it.

    ``run_dirs`` are the seeds' run directories: each records the parent's id (``PARENT_FILE``) as
    soon as it is made, so a resumed job (even one killed before its first seed started) reattaches
    to the same parent and never makes a second one. ``params`` are the settings the seeds share
    (the config without the seed); tags: the run's config tags without the seed, ``job=setting``
    (``latest_finished_runs`` never reads it). ``finish_seeds`` logs the mean over seeds of the final
    metrics, so the runs table compares settings directly.
    """

    def __init__(self, run_dirs: list[Path], params: dict, tags: dict, experiment: str | None = None,
                 enabled: bool = True):
        self.run_dirs = [Path(d) for d in run_dirs]
        self.params = {k: v for k, v in flatten(params).items() if k != "optim.seed"}
        dropped = {"seed", "run_name", "config_hash", "init_sha256"}
        self.tags = {**{k: str(v) for k, v in tags.items() if k not in dropped}, "job": "setting",
                     "git_commit": git_commit()}
        self.note, _ = profile_settings(tags)
        self.experiment = experiment or experiment_name(tags.get("profile"))
        self.name = setting_name(tags) or tags.get("run_name")
        self.enabled = enabled
        self.run_id: str | None = None

    def start(self) -> str | None:
        if not self.enabled:
            return None
        client = _client()
        for run_dir in self.run_dirs:
            self.run_id = _recorded_run(client, run_dir / PARENT_FILE)
            if self.run_id is not None:
                retry_when_busy(client.update_run, self.run_id, status="RUNNING")
                break
        else:
            experiment_id = _experiment_id(client, self.experiment, self.note)
            run = retry_when_busy(client.create_run, experiment_id, tags=self.tags, run_name=self.name)
            self.run_id = run.info.run_id
            _log_params(client, self.run_id, self.params)
        record = {"run_id": self.run_id, "tracking_uri": tracking_uri()}
        for run_dir in self.run_dirs:
            run_dir.mkdir(parents=True, exist_ok=True)
            if not (run_dir / PARENT_FILE).is_file() or json.loads((run_dir / PARENT_FILE).read_text()) != record:
                write_json(run_dir / PARENT_FILE, record)
        return self.run_id

    def finish_seeds(self, results: list[dict], step: int = 0) -> dict[str, float]:
        """Log (and return) the mean over ``results`` (each seed's ``train`` result) of the test metrics
        (the validation metrics of the selected checkpoint when the data has no test split), as
        ``test/<metric>`` (``val/<metric>``), with ``seeds`` the number of seeds; then FINISHED."""
        means: dict[str, float] = {}
        for split in ("test", "val"):
            rows = [r.get(split) or {} for r in results]
            if rows and all(rows):
                keys = sorted(set.intersection(*(set(row) for row in rows)))
                means = {f"{split}/{k}": sum(float(row[k]) for row in rows) / len(rows) for k in keys}
                break
        means["seeds"] = float(len(results))
        if not self.enabled or self.run_id is None:
            return means
        from mlflow.entities import Metric

        client = _client()
        timestamp = int(time.time() * 1000)
        batch = [Metric(key, value, timestamp, step) for key, value in means.items()]
        for start in range(0, len(batch), 1000):
            retry_when_busy(client.log_batch, self.run_id, metrics=batch[start:start + 1000])
        retry_when_busy(client.set_terminated, self.run_id, status="FINISHED")
        return means

    def finish(self, status: str) -> None:
        if self.enabled and self.run_id is not None:
            retry_when_busy(_client().set_terminated, self.run_id, status=status)
