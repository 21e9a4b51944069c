"""What the reports read: test metrics of every (run, seed, evaluation) the profile's tables need, from
the metrics files (the truth) or rebuilt from MLflow (the window), the probes, text statistics and the
paper's published numbers (``paper_tables.yaml``).

Both sources give the same tables; the per-query values of the paired verdicts always come from the
files (MLflow holds the means only). A result counts only when it was produced by the configuration
the profile asks for now (its config hash); missing or stale results are listed, never fatal.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from taco import experiments, paths, profiles
from taco.data.synthetic.probe import PROBE_SCORE
from taco.paired import SeedQueries
from taco.tracking import EXPERIMENT, latest_finished_runs

PAPER_TABLES_PATH = Path(__file__).parent.parent / "paper_tables.yaml"

ItemKey = tuple[str, int, str]
"""(run id, seed, evaluation) of one measured result."""


class ReportError(ValueError):
    """A result file cannot be read; the message names the file and the key."""


@dataclass
class Results:
    """Test metrics (``<score>/<t2v|v2t>_<metric>``) of every expected item that was found, and why
    the others are absent (``missing`` or ``stale``)."""

    source: str
    metrics: dict[ItemKey, dict[str, float]] = field(default_factory=dict)
    problems: dict[ItemKey, str] = field(default_factory=dict)
    per_query: dict[ItemKey, dict] = field(default_factory=dict)
    """``{"queries": [...], "per_query": {score: {metric: [...]}}}`` of the items whose file has them."""


def expected_items(profile: dict) -> dict[ItemKey, str]:
    """Every numeric result the profile's tables read, with the config hash that must have produced it."""
    selected = set(profiles.selected_runs(profile))
    expected: dict[ItemKey, str] = {}
    for rows in experiments.TABLES.values():
        for row in rows:
            for cell in row.cells.values():
                if cell.evaluation not in experiments.RETRIEVAL_EVALUATIONS or cell.run not in selected:
                    continue
                for seed in profiles.run_seeds(profile, cell.run.id):
                    key = (cell.run.id, seed, cell.evaluation)
                    if key not in expected:
                        expected[key] = profiles.evaluated_config(profile, cell.run.id, seed, cell.evaluation).hash()
    return expected


def in_results(results_dir: Path, path: str) -> Path:
    """A path of ``taco.paths`` (under ``results/``) under ``results_dir`` instead."""
    return Path(results_dir) / Path(path).relative_to(paths.RESULTS_DIR)


def result_path(results_dir: Path, run_id: str, seed: int, evaluation: str) -> Path:
    """The file of one result under ``results_dir``."""
    return in_results(results_dir, paths.evaluation_path(run_id, seed, evaluation))


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"'{path}' is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ReportError(f"'{path}' must hold a JSON object, got {type(data).__name__}")
    return data


def required(data: dict, key: str, path: Path) -> Any:
    if key not in data:
        raise ReportError(f"'{path}' has no '{key}' key")
    return data[key]


def read_result(path: Path, config_hash: str) -> dict | str:
    """A result file's content, or why it does not count (``missing``, ``stale (...)``)."""
    if not path.is_file():
        return "missing"
    data = read_json(path)
    found_hash = required(data, "config_hash", path)
    if found_hash != config_hash:
        return f"stale (config {found_hash}, expected {config_hash})"
    return data


def _per_query(data: dict, path: Path) -> dict | None:
    if "per_query" not in data:
        return None
    return {"queries": required(data, "queries", path), "per_query": data["per_query"]}


def results_from_files(expected: Mapping[ItemKey, str], results_dir: Path) -> Results:
    """Read each expected result file: training metrics.json (``test``) or evaluation JSON (``metrics``),
    with their per-query values."""
    results = Results("metrics files")
    for key, config_hash in expected.items():
        path = result_path(results_dir, *key)
        data = read_result(path, config_hash)
        if isinstance(data, str):
            results.problems[key] = data
            continue
        metrics = required(data, "test" if key[2] == "train" else "metrics", path)
        results.metrics[key] = {name: float(value) for name, value in metrics.items()}
        if (entry := _per_query(data, path)) is not None:
            results.per_query[key] = entry
    return results


def results_from_mlflow(expected: Mapping[ItemKey, str], results_dir: Path, experiment: str = EXPERIMENT) -> Results:
    """The same results rebuilt from MLflow: the latest FINISHED run of each expected config hash; the
    per-query values come from the result files of the same config hash under ``results_dir``."""
    runs = {job: latest_finished_runs(experiment, job=job) for job in ("train", "evaluate")}
    results = Results("MLflow")
    for key, config_hash in expected.items():
        run = runs["train" if key[2] == "train" else "evaluate"].get(config_hash)
        if run is None:
            results.problems[key] = "missing"
            continue
        results.metrics[key] = {name.removeprefix("test/"): value for name, value in run.metrics.items()
                                if name.startswith("test/")}
        path = result_path(results_dir, *key)
        data = read_result(path, config_hash)
        if not isinstance(data, str) and (entry := _per_query(data, path)) is not None:
            results.per_query[key] = entry
    return results


def seed_queries(entry: Mapping, score: str) -> SeedQueries | None:
    """One score's per-query values of a result (``Results.per_query`` entry); None when it lacks the score."""
    if score not in entry["per_query"]:
        return None
    return SeedQueries(np.asarray(entry["queries"], dtype=np.int64),
                       {metric: np.asarray(values, dtype=np.float64) for metric, values in entry["per_query"][score].items()})


def t2v_metrics(test: Mapping[str, float], score: str) -> dict[str, float]:
    """The text-to-video metrics of one score, named as in the paper tables (``fused/t2v_r1`` -> ``r1``)."""
    prefix = f"{score}/t2v_"
    return {name.removeprefix(prefix): value for name, value in test.items() if name.startswith(prefix)}



@dataclass(frozen=True)
class ProbeResult:
    """A probe's text-to-video metrics (paper naming) and per-query values."""

    metrics: dict[str, float]
    values: SeedQueries


Probes = Mapping[experiments.Probe, ProbeResult | str]
"""probe -> its result, or why it is absent."""


def probe_file(results_dir: Path, probe: experiments.Probe) -> Path:
    return in_results(results_dir, paths.probe_path(probe.id))


def read_probes(profile: dict, results_dir: Path) -> dict[experiments.Probe, ProbeResult | str]:
    """Every probe of the profile from ``<results>/probe/``; stale when fitted on other data settings."""
    found: dict[experiments.Probe, ProbeResult | str] = {}
    for probe in profiles.probe_jobs(profile):
        path = probe_file(results_dir, probe)
        data = read_result(path, profiles.probe_hash(profile, probe))
        if not isinstance(data, str):
            values = seed_queries(_per_query(data, path) or {"queries": [], "per_query": {}}, PROBE_SCORE)
            if values is None:
                raise ReportError(f"'{path}' has no per-query values of the score '{PROBE_SCORE}'")
            data = ProbeResult(t2v_metrics(required(data, "metrics", path), PROBE_SCORE), values)
        found[probe] = data
    return found


def read_text_stats(results_dir: Path) -> dict[str, dict]:
    """dataset -> Table 10 and Figure 4 statistics, from the files written by ``python -m taco text-stats``."""
    found = {}
    for dataset in experiments.TEXT_STATS_DATASETS:
        path = in_results(results_dir, paths.text_stats_path(dataset))
        if path.is_file():
            data = read_json(path)
            for key in ("captions", "statistics", "idf_curves"):
                required(data, key, path)
            found[dataset] = data
    return found



def load_paper_tables(path: Path = PAPER_TABLES_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)



@dataclass(frozen=True)
class ReportInputs:
    """Where the report reads from: the results folder (layout of ``taco.paths``) and MLflow or files."""

    results_dir: Path
    from_mlflow: bool = False
    experiment: str = EXPERIMENT

    @property
    def model_sizes_path(self) -> Path:
        return in_results(self.results_dir, paths.MODEL_SIZES_PATH)
