"""Every output path and file name under ``results/``: resolved configs, runs and their work folders,
evaluations, text preparation and statistics, probes, extracted features and model sizes.

Names only: which of them a profile needs is decided in ``taco.profiles``.
"""
from __future__ import annotations

from taco.experiments import EVALUATIONS, RUN_ID_SEPARATOR, ExperimentError

RESULTS_DIR = "results"


TEXT_CONFIG_PREFIX = "text" + RUN_ID_SEPARATOR
STATS_CONFIG_PREFIX = "stats" + RUN_ID_SEPARATOR
SEED_SUFFIX = RUN_ID_SEPARATOR + "seed"


def config_name(run_id: str, seed: int) -> str:
    return f"{run_id}{SEED_SUFFIX}{seed}"


def text_config_name(job: str) -> str:
    return TEXT_CONFIG_PREFIX + job


def stats_config_name(release: str) -> str:
    return STATS_CONFIG_PREFIX + release


def config_path(name: str) -> str:
    """Where the resolved config ``name`` is written (see ``taco.profiles.resolved_config``)."""
    return f"{RESULTS_DIR}/configs/{name}.yaml"


def run_metrics_path(run_id: str, seed: int) -> str:
    """The run's final metrics (a copy of its work folder's metrics.json)."""
    return f"{RESULTS_DIR}/runs/{run_id}/seed{seed}/metrics.json"


def run_work_dir(run_id: str, seed: int, config_hash: str) -> str:
    """Checkpoints, best.pt, train_log.jsonl and metrics.json of one configuration of a run: a changed
    configuration trains in a fresh folder, an unchanged one resumes from its checkpoint."""
    return f"{RESULTS_DIR}/runs/{run_id}/seed{seed}/{config_hash}"


def evaluation_path(run_id: str, seed: int, evaluation: str) -> str:
    """The JSON a cell's numbers come from."""
    if evaluation == "train":
        return run_metrics_path(run_id, seed)
    if evaluation not in EVALUATIONS and "{" not in evaluation:  # "{...}": a Snakemake wildcard pattern
        raise ExperimentError(f"unknown evaluation '{evaluation}' (known: {', '.join(EVALUATIONS)})")
    return f"{RESULTS_DIR}/evaluations/{run_id}/seed{seed}/{evaluation}.json"


def text_marker_path(job: str) -> str:
    return f"{RESULTS_DIR}/text/{job}.json"


def text_stats_path(release: str) -> str:
    """Table 10 counts and Figure 4 idf curves of a release's training captions."""
    return f"{RESULTS_DIR}/text_stats/{release}.json"


MODEL_SIZES_PATH = f"{RESULTS_DIR}/model_sizes.json"


def probe_path(probe_id: str) -> str:
    """The JSON of a probe (``Probe.id``, or a Snakemake wildcard pattern)."""
    return f"{RESULTS_DIR}/probe/{probe_id}.json"


def extraction_marker_path(release: str, feature_type: str) -> str:
    return f"{RESULTS_DIR}/features/{release}{RUN_ID_SEPARATOR}{feature_type}.done"
