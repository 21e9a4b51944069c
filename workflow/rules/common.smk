# Params validation, this profile's grid and the helpers the rules share (the rules themselves
# live in the other files: `snakemake --lint` asks for functions and rules to be kept apart).
import os
import re
import shlex
import sys
import time

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)  # the checkout's own taco package, also in a copy of the repository
from taco import code_deps, experiments, paths, profiles
from taco.reports import targets as report_targets
from taco.reports.summary import SUMMARY_FILE, print_summary


def config_source():
    """Where the config came from, for error messages: the params files merged (the Snakefile's
    configfile, then any --configfile) and the keys set with --config."""
    given = [os.path.abspath(f) for f in workflow.config_settings.configfiles]   # --configfile, merged last
    files = dict.fromkeys([*(f for f in map(os.path.abspath, workflow.configfiles) if f not in given), *given])
    shown = [os.path.relpath(f) if f.startswith(os.getcwd() + os.sep) else f for f in files]
    source = " + ".join(shown) or "the snakemake config"
    overrides = sorted(workflow.config_settings.config or {})
    return source + (f" with --config {', '.join(overrides)}" if overrides else "")


# The params schema fills in its defaults (data.extract.device, skip_errors); a profile it refuses is
# reported by check_profile, on one line naming the key and the file (snakemake.utils.validate's own
# error prints the whole profile and schema).
try:
    validate(config, "../schemas/params.schema.yaml")
except WorkflowError:
    pass
try:
    PROFILE = profiles.check_profile(config, config_source())
except experiments.ExperimentError as error:
    sys.exit(str(error))

# Jobs run `python -m taco ...`: the interpreter of the software environment of the rules (conda:
# ../envs/taco.yaml under --use-conda, which puts its python first on PATH), else the one running
# Snakemake (its virtual environment need not be activated).
envvars:
    "PATH",


SEARCH_PATH = os.environ["PATH"]
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), SEARCH_PATH])

SOFTWARE_ENV = "../envs/taco.yaml"  # conda: of every rule, relative to workflow/rules
SEEDS = PROFILE["seeds"]
ALL_SEEDS = sorted(set(SEEDS) | set(PROFILE.get("method_seeds") or []))
RUNS = profiles.unique_runs(PROFILE)
TEXT_JOBS = list(profiles.text_runs(PROFILE))
TEXT_STATS_RELEASES = profiles.text_stats_releases(PROFILE)
EVALUATIONS = profiles.evaluations(PROFILE)
SIZE_RUNS = profiles.size_runs(PROFILE)
RESULTS = paths.RESULTS_DIR
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
    config_name=one_of(profiles.config_names(PROFILE)),


def work_dir(run_id, seed):
    """The run's folder for its current configuration: resumes an unchanged one, starts a changed one afresh."""
    return paths.run_work_dir(run_id, int(seed), profiles.run_config(PROFILE, run_id, int(seed)).hash())


def run_work_dir(wildcards):
    return work_dir(wildcards.run_id, wildcards.seed)


def data_inputs(dataset):
    """What a job on ``dataset`` reads from the data stage: the synthetic manifest, or the real release folder.
    Only small files are declared, so that data restored by DVC (new mtimes, same content) reruns nothing."""
    if PROFILE["data"]["source"] == "synthetic":
        return [SYNTHETIC_MANIFEST]
    return [profiles.dataset_root(PROFILE, dataset), *extraction_markers(experiments.DATASETS[dataset].release)]


def downstream_data(release):
    """What a CrossTask or COIN job reads from the data stage."""
    if PROFILE["data"]["source"] == "synthetic":
        return [SYNTHETIC_MANIFEST]
    return [profiles.release_root(PROFILE, release), *extraction_markers(release)]


def downstream_root(release):
    """The folder of CrossTask or COIN as a param derived from the job's data input (Snakemake's lint
    asks that of path params): the release folder itself, or the synthetic MANIFEST.json's folder."""
    if PROFILE["data"]["source"] == "synthetic":
        return lambda w, input: os.path.join(os.path.dirname(input.data[0]), release)
    return lambda w, input: input.data[0]


def extraction_markers(release):
    """The feature extraction jobs of a real release (data.extract), which its jobs wait for."""
    return [paths.extraction_marker_path(r, t) for r, t in profiles.extraction_jobs(PROFILE) if r == release]


def all_data_inputs():
    """The data-stage inputs of every selected run and caption statistics job."""
    datasets = {experiments.Run.parse(run).dataset for run in RUNS}
    datasets.update(experiments.TEXT_STATS_DATASETS[release] for release in TEXT_STATS_RELEASES)
    return sorted({path for dataset in datasets for path in data_inputs(dataset)})


def all_run_metrics():
    return [paths.run_metrics_path(run, seed) for run in RUNS for seed in profiles.run_seeds(PROFILE, run)]


def as_yaml(values):
    return yaml.safe_dump(values, sort_keys=False)


# Shell command of the rules that write params.yaml to their output through a temporary file.
WRITE_YAML = ("printf '%s' {params.yaml:q} > {output:q}.tmp && mv {output:q}.tmp {output:q}"
              " && echo wrote {output:q} > {log:q}")


# Text jobs (text.smk)


def text_release(job):
    return experiments.DATASETS[experiments.text_job_dataset(job)].release


def first_text_job(release):
    """The first text job of a release (None when no selected run needs its text)."""
    return next((job for job in TEXT_JOBS if text_release(job) == release), None)


def text_predecessor(wildcards):
    """The first text job of the same release: the others wait for it and find its text features
    (MSR-VTT's two splits, the token-type variants) in the cache instead of encoding them in parallel."""
    first = first_text_job(text_release(wildcards.text_job))
    return [] if first == wildcards.text_job else [paths.text_marker_path(first)]


def tagged_text(wildcards):
    """The caption statistics of a release wait for its first text job, and read its spaCy tags from the cache."""
    first = first_text_job(wildcards.release)
    return [paths.text_marker_path(first)] if first else []


def text_files():
    return ([paths.text_marker_path(job) for job in TEXT_JOBS]
            + [paths.text_stats_path(release) for release in TEXT_STATS_RELEASES])


# Training (train.smk)


def seeds_of(run_id):
    return profiles.run_seeds(PROFILE, run_id)


def pretrained_metrics(wildcards):
    """A finetuned run waits for its pretraining run (each seed starts from that seed's best.pt)."""
    pretrained = experiments.Run.parse(wildcards.run_id).pretrained
    return [paths.run_metrics_path(pretrained.id, seed) for seed in seeds_of(pretrained.id)] if pretrained else []


def train_priority(wildcards):
    """Order among ready training jobs, longest first, so that short jobs fill the end of the run
    instead of one long job running alone: pretraining runs first (finetuning and zero-shot
    evaluation wait for them), then the runs over more seeds."""
    pretraining = experiments.Run.parse(wildcards.run_id).dataset == experiments.PRETRAIN_DATASET
    return 10 * pretraining + len(seeds_of(wildcards.run_id))


def train_arguments(wildcards):
    return " ".join(f"--config {shlex.quote(paths.config_path(paths.config_name(wildcards.run_id, seed)))}"
                    f" --out {shlex.quote(work_dir(wildcards.run_id, seed))}" for seed in seeds_of(wildcards.run_id))


def copy_metrics(wildcards):
    """Each seed's metrics.json copied out of its configuration's folder, atomically, once all are trained."""
    return " && ".join(
        f"cp {shlex.quote(work_dir(wildcards.run_id, seed))}/metrics.json {shlex.quote(target)}.tmp"
        f" && mv {shlex.quote(target)}.tmp {shlex.quote(target)}"
        for seed in seeds_of(wildcards.run_id) for target in [paths.run_metrics_path(wildcards.run_id, seed)])


# Evaluations (evaluate.smk)

PROBES = profiles.probe_jobs(PROFILE)


def evaluation_files():
    return [paths.evaluation_path(run, seed, evaluation) for run, seed, evaluation in EVALUATIONS]


def evaluation_data(wildcards):
    """The data a zero-shot evaluation reads: its target dataset's."""
    if not wildcards.evaluation.startswith("zero_shot_"):
        return []
    return data_inputs(wildcards.evaluation.removeprefix("zero_shot_"))


def probe_files():
    return [paths.probe_path(probe.id) for probe in PROBES]


def probe_data(wildcards):
    """The data a probe reads: its test dataset's, and the pretraining corpus's when zero-shot."""
    probe = experiments.Probe.parse(wildcards.probe)
    datasets = [probe.dataset] + ([experiments.PRETRAIN_DATASET] if probe.zero_shot else [])
    return sorted({path for dataset in datasets for path in data_inputs(dataset)})


# Reports (report.smk): the folder of the profile, the files the HTML report shows with their captions.
REPORTS = report_targets.reports_dir(PROFILE)
REPORT_FIGURES = [f"{REPORTS}/{name}.png" for name in experiments.REPORT_FIGURES]
REPORT_FILES = [f"{REPORTS}/{f}" for f in report_targets.all_report_files() if f"{REPORTS}/{f}" not in REPORT_FIGURES]
REPORT_CODE = code_deps.cli_dependencies("taco.reports.writer")
WORKFLOW_START = time.time()


def report_outputs(files):
    """``files`` of the reports folder, those the HTML report shows wrapped in report() with their caption."""
    outputs = []
    for file in files:
        entry = report_targets.report_entry(file)
        if entry is None:
            outputs.append(f"{REPORTS}/{file}")
        else:
            caption = f"../report/{entry.pop('caption')}"
            outputs.append(report(f"{REPORTS}/{file}", caption=caption, **entry))
    return outputs


def reports_folder(output):
    """The reports folder of a report job, from its first output (``<folder>/<name>.md`` or ``README.md``)."""
    return os.path.dirname(output[0])
