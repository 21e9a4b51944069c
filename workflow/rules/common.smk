# Params validation, this profile's grid and the helpers the rules share.
import re
import shlex
import sys

import yaml
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)  # the checkout's own taco package, also in a copy of the repository
from taco import experiments


validate(config, "../schemas/params.schema.yaml")
PROFILE = experiments.check_profile(config, "the snakemake config (params profile and --config overrides)")

PYTHON = sys.executable
SEEDS = PROFILE["seeds"]
ALL_SEEDS = sorted(set(SEEDS) | set(PROFILE.get("method_seeds") or []))
RUNS = experiments.unique_runs(PROFILE)
TEXT_JOBS = list(experiments.text_runs(PROFILE))
TEXT_STATS_RELEASES = experiments.text_stats_releases(PROFILE)
EVALUATIONS = experiments.evaluations(PROFILE)
SIZE_RUNS = experiments.size_runs(PROFILE)
RESULTS = experiments.RESULTS_DIR
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
MLFLOW_FLAG = "" if PROFILE["tracking"]["mlflow"] else "--no-mlflow"
SYNTHETIC_MANIFEST = f"{PROFILE['data']['root']}/MANIFEST.json"


def one_of(values):
    """A wildcard constraint matching exactly one of ``values``."""
    return "|".join(re.escape(str(v)) for v in values) or "(?!)"


wildcard_constraints:
    run_id=one_of(RUNS),
    seed=one_of(ALL_SEEDS),
    text_job=one_of(TEXT_JOBS),
    release=one_of(TEXT_STATS_RELEASES),
    config_name=one_of(experiments.config_names(PROFILE)),


def work_dir(run_id, seed):
    """The run's folder for its current configuration: resumes an unchanged one, starts a changed one afresh."""
    return experiments.run_work_dir(run_id, int(seed), experiments.run_config(PROFILE, run_id, int(seed)).hash())


def run_work_dir(wildcards):
    return work_dir(wildcards.run_id, wildcards.seed)


def data_inputs(dataset):
    """What a job on ``dataset`` reads from the data stage: the synthetic manifest, or the real release folder.
    Only small files are declared, so that data restored by DVC (new mtimes, same content) reruns nothing."""
    if PROFILE["data"]["source"] == "synthetic":
        return [SYNTHETIC_MANIFEST]
    return [experiments.dataset_root(PROFILE, dataset), *extraction_markers(experiments.DATASETS[dataset].release)]


def downstream_data(release):
    """What a CrossTask or COIN job reads from the data stage."""
    if PROFILE["data"]["source"] == "synthetic":
        return [SYNTHETIC_MANIFEST]
    return [experiments.release_root(PROFILE, release), *extraction_markers(release)]


def extraction_markers(release):
    """The feature extraction jobs of a real release (data.extract), which its jobs wait for."""
    return [experiments.extraction_marker_path(r, t) for r, t in experiments.extraction_jobs(PROFILE) if r == release]


def all_data_inputs():
    """The data-stage inputs of every selected run and caption statistics job."""
    datasets = {experiments.Run.parse(run).dataset for run in RUNS}
    datasets.update(experiments.TEXT_STATS_DATASETS[release] for release in TEXT_STATS_RELEASES)
    return sorted({path for dataset in datasets for path in data_inputs(dataset)})


def all_run_metrics():
    return [experiments.run_metrics_path(run, seed) for run in RUNS for seed in experiments.run_seeds(PROFILE, run)]


def as_yaml(values):
    return yaml.safe_dump(values, sort_keys=False)


# Shell command of the rules that write params.yaml to their output through a temporary file.
WRITE_YAML = ("printf '%s' {params.yaml:q} > {output:q}.tmp && mv {output:q}.tmp {output:q}"
              " && echo wrote {output:q} > {log:q}")


rule resolved_config:
    """The resolved config of a run and seed, a text job or a statistics job; its params trigger reruns
    on a change. Written by the shell (no Python start-up per config), through a temporary file."""
    output:
        experiments.config_path("{config_name}"),
    params:
        yaml=lambda w: as_yaml(experiments.resolved_config(PROFILE, w.config_name).to_dict()),
    log:
        f"{LOGS}/configs/{{config_name}}.log",
    benchmark:
        f"{BENCHMARKS}/configs/{{config_name}}.tsv"
    localrule: True
    shell:
        WRITE_YAML


onstart:
    if PROFILE["tracking"]["mlflow"]:
        # A fresh SQLite store cannot be created by parallel jobs: create it once, before any job.
        shell("{PYTHON:q} -m taco init-tracking")
