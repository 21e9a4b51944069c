"""The Snakemake workflow and its DVC view, checked on a temporary copy of the repository."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

from taco import experiments, paths, profiles
from taco.reports import dvc_files

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "dvc.yaml", "params.yaml", ".dvcignore", "workflow", "params", "taco",
                  "docs/schedule_sweep.json")   # a dep of DVC's report stage
VENV_BIN = Path(sys.executable).parent
SMOKE_RUNS = 19          # hand count in test_experiments.test_shipped_profiles_and_their_grids
SMOKE_SEEDS = 2
SMOKE_REPORTS = "results/smoke/reports"   # a profile other than the default writes its own reports folder


def copy_repository(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture
def repo(tmp_path):
    return copy_repository(tmp_path / "repo")


def environment() -> dict:
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}


def snakemake(repo: Path, *args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=repo, env=environment(),
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \S+:\n)", output):
        match = re.match(r"(?:local)?rule (\S+):\n", block)
        if not match:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        pairs = dict(item.split("=", 1) for item in wildcards.group(1).split(", ")) if wildcards else {}
        jobs.append((match.group(1), pairs))
    return jobs


def test_dry_run_of_the_smoke_profile_lists_the_grid(repo):
    jobs = planned_jobs(snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout)
    counts = Counter(rule for rule, _ in jobs)
    # youcook2 and howto100m x {none, noun+verb}, activitynet x noun+verb; 3 releases for Table 10
    text_jobs, releases = 5, 3
    # Table 12's l3_random and l1_l3_cascade (l1_l3_random not in smoke); Figure 2's four pretrained models
    # zero-shot on two datasets; a job evaluates a run's seeds
    retrieval_evaluations = 2 + 4 * 2
    assert counts == {
        "synthetic_data": 1, "resolved_config": SMOKE_RUNS * SMOKE_SEEDS + text_jobs + releases,
        "prepare_text": text_jobs, "text_stats": releases, "train": SMOKE_RUNS,   # a job trains a run's seeds
        "evaluate_retrieval": retrieval_evaluations, "crosstask": SMOKE_SEEDS, "coin": 2 * SMOKE_SEEDS,
        "figure3": 1, "model_size": 1, "effective_profile": 1, "report": 1, "all": 1,
        # the model-free probe once per (test set, features) of the retrieval cells: YouCook2 and
        # ActivityNet with both feature types, zero-shot YouCook2 and MSR-VTT split2 with S3D-HM
        "probe": 6,
    }
    smoke = profiles.load_profile(ROOT / "params" / "smoke.yaml")
    trained = {w["run_id"] for rule, w in jobs if rule == "train"}
    assert trained == set(profiles.unique_runs(smoke))


def test_evaluation_jobs_score_every_seed_and_caption_statistics_wait_for_the_tagged_text(repo):
    output = snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout
    smoke = profiles.load_profile(ROOT / "params" / "smoke.yaml")
    first_text_job = {}
    for job in profiles.text_runs(smoke):
        first_text_job.setdefault(experiments.DATASETS[experiments.text_job_dataset(job)].release, job)
    evaluations = statistics = 0
    for block in re.split(r"\n(?=(?:local)?rule \S+:\n)", output):
        rule = re.match(r"(?:local)?rule (\S+):\n", block)
        fields = dict(re.findall(r"^\s+(input|output|wildcards): (.*)$", block, re.MULTILINE))
        if rule and rule.group(1) == "evaluate_retrieval":
            wildcards = dict(item.split("=", 1) for item in fields["wildcards"].split(", "))
            seeds = profiles.run_seeds(smoke, wildcards["run_id"])
            assert len(seeds) == SMOKE_SEEDS
            assert fields["output"].split(", ") == [
                paths.evaluation_path(wildcards["run_id"], seed, wildcards["evaluation"]) for seed in seeds]
            evaluations += 1
        if rule and rule.group(1) == "text_stats":
            release = dict(item.split("=", 1) for item in fields["wildcards"].split(", "))["release"]
            markers = [path for path in fields["input"].split(", ") if path.startswith("results/text/")]
            # a release no run needs text of (MSR-VTT in smoke) tags its captions itself
            assert markers == ([paths.text_marker_path(first_text_job[release])] if release in first_text_job
                               else []), release
            statistics += 1
    assert evaluations == 2 + 4 * 2 and statistics == 3


def test_every_rule_has_a_log_and_a_benchmark_and_training_asks_for_a_gpu(repo):
    output = snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout
    for block in re.split(r"\n(?=(?:local)?rule \S+:\n)", output):
        match = re.match(r"(?:local)?rule (\S+):\n", block)
        if not match or match.group(1) in ("all",):
            continue
        assert re.search(r"^\s+log: \S", block, re.MULTILINE), match.group(1)
        assert re.search(r"^\s+benchmark: \S", block, re.MULTILINE), match.group(1)
        if match.group(1) == "train":
            assert "gpu=1" in block
        if match.group(1) in ("train", "prepare_text", "evaluate_retrieval", "crosstask", "coin", "figure3",
                              "model_size", "report"):
            assert "taco/cli.py" in block and "taco/__main__.py" in block, match.group(1)


def test_stage_targets_of_dvc_are_rules_of_the_workflow(repo):
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    targets = [stage["cmd"].split(" -- ")[1] for stage in stages.values()]
    assert targets == ["data_all", "text_all", "train_all", "evaluate_all", "all"]
    snakemake(repo, "-n", "--configfile", "params/smoke.yaml", "--", *targets)
    for name, stage in stages.items():
        for out in stage.get("outs", []):
            (path, options), = out.items()
            assert options["persist"] is True, (name, path)
    report_outs = {next(iter(out)) for out in stages["report"]["outs"]}
    assert report_outs >= {"reports/README.md", "reports/metrics.json",
                           *(f"reports/{name}.md" for name in experiments.REPORT_NAMES),
                           *(f"reports/html/{name}.html" for name in experiments.REPORT_NAMES),
                           *(f"reports/{name}.png" for name in experiments.REPORT_FIGURES)}
    assert stages["report"]["metrics"] == [{f"reports/metrics/{table}.json": {"cache": False}}
                                           for table in dvc_files.METRIC_TABLES]


@pytest.mark.parametrize("edit, key", [
    (lambda p: p["base"]["optim"].update(lr=-0.001), "lr"),
    (lambda p: p["grid"].update(features=["r50"]), "grid.features[0]"),
    (lambda p: p["data"].update(source="real", paths={"youcook2": "/no/such/youcook2"}), "data.paths.youcook2"),
])
def test_bad_params_fail_before_any_job_naming_the_key(repo, edit, key):
    profile = yaml.safe_load((repo / "params" / "smoke.yaml").read_text())
    edit(profile)
    (repo / "params" / "bad.yaml").write_text(yaml.safe_dump(profile))
    result = snakemake(repo, "--configfile", "params/bad.yaml", check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert key in message, message
    if key == "lr":
        assert "'base.optim.lr'" in message   # the params schema, checked by profiles.check_profile
    assert not (repo / "results").exists() and not (repo / "data").exists()


ALLOWED_TOP_LEVEL = ("(allowed: base, data, datasets, description, downstream, figure3, finetune, grid, method_seeds,"
                     " profile, schedule_sweep, seeds, tracking)")


@pytest.mark.parametrize("how, expected", [
    ("config", "invalid params in params/smoke.yaml with --config bogus: unknown top-level key 'bogus' "
               + ALLOWED_TOP_LEVEL),
    ("file", "invalid params in params/smoke.yaml + params/bad.yaml: unknown top-level key 'bogus' "
             + ALLOWED_TOP_LEVEL),
    ("type", "invalid params in params/smoke.yaml + params/bad.yaml: 'seeds' must be of type array, not int 1"),
], ids=["config", "file", "type"])
def test_a_bad_profile_key_is_one_line_naming_it_and_the_file(repo, how, expected):
    """An unknown top-level key (from --config or a profile) or a wrong type: one line naming the key, the
    file and what is allowed, not the whole profile and schema (snakemake.utils.validate's 300 lines)."""
    (repo / "Snakefile").write_text((repo / "Snakefile").read_text().replace("params/default.yaml", "params/smoke.yaml"))
    profile = yaml.safe_load((repo / "params" / "smoke.yaml").read_text())
    profile.update(bogus=1) if how == "file" else profile.update(seeds=1)
    (repo / "params" / "bad.yaml").write_text(yaml.safe_dump(profile))
    args = ["--config", "bogus=1"] if how == "config" else ["--configfile", "params/bad.yaml"]
    result = snakemake(repo, "-n", *args, check=False)
    assert result.returncode == 1
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if not line.startswith("Config file ")]   # Snakemake's note on merged config files
    assert errors == [expected]


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_snakemake_lint_finds_nothing(repo, tmp_path, source):
    """`snakemake --lint` passes, with the synthetic data rule and with the real-data extraction rule."""
    args = []
    if source == "real":
        args = ["--configfile", str(real_profile_with_extraction(repo, tmp_path))]
    result = snakemake(repo, "--lint", *args, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output
    assert "Congratulations, your workflow is in a good condition!" in output, output


def test_dvc_runs_the_profile_of_params_yaml(repo):
    """dvc.yaml parses (dvc dag) with the profile taken from params.yaml; `dvc exp run -S` sets it; the
    data stage refuses a data_root that is not the profile's data.root, in one line."""
    dvc = str(VENV_BIN / "dvc")
    run = dict(cwd=repo, env=environment(), capture_output=True, text=True)
    for command in (["git", "init", "-q"], [dvc, "init", "-q"]):
        subprocess.run(command, check=True, **run)
    chosen = yaml.safe_load((repo / "params.yaml").read_text())
    assert chosen["profile"] == "params/default.yaml"
    assert chosen["data_root"] == profiles.load_profile(repo / chosen["profile"])["data"]["root"]
    (repo / "params.yaml").write_text(yaml.safe_dump({"profile": "params/smoke.yaml",
                                                      "data_root": "data/synthetic_smoke"}))
    dag = subprocess.run([dvc, "dag", "--md"], **run)
    assert dag.returncode == 0 and "report" in dag.stdout, dag.stdout + dag.stderr
    dry = subprocess.run([dvc, "repro", "--dry", "data"], **run)
    assert "--configfile params/smoke.yaml -- data_all" in dry.stdout, dry.stdout + dry.stderr
    check = dry.stdout.split("> ", 1)[1].split(" && snakemake", 1)[0]
    assert subprocess.run(check, shell=True, **run).returncode == 0
    mismatch = subprocess.run(check.replace("data/synthetic_smoke", "data/synthetic"), shell=True, **run)
    assert mismatch.returncode == 1 and mismatch.stderr == (
        "params/smoke.yaml has data.root 'data/synthetic_smoke', params.yaml data_root is 'data/synthetic'\n")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_smoke_profile_end_to_end_through_dvc(tmp_path):
    """dvc repro runs the smoke profile; then nothing is left to do for DVC or Snakemake, the data come
    back byte for byte from the default remote without rerunning anything, and a changed training
    parameter reruns only the jobs that read it."""
    repo = copy_repository(tmp_path / "repo")
    (repo / "params.yaml").write_text(yaml.safe_dump({"profile": "params/smoke.yaml",
                                                      "data_root": "data/synthetic_smoke"}))
    # dvc.yaml names the default profile's reports/; another profile's reports are elsewhere
    (repo / "dvc.yaml").write_text((repo / "dvc.yaml").read_text().replace(" reports/", f" {SMOKE_REPORTS}/"))
    run = dict(cwd=repo, env=environment(), capture_output=True, text=True)
    dvc = str(VENV_BIN / "dvc")
    for command in (["git", "init", "-q"], [dvc, "init", "-q"]):
        subprocess.run(command, check=True, **run)
    shutil.copy2(ROOT / ".dvc" / "config", repo / ".dvc" / "config")   # the default local remote
    first = subprocess.run([dvc, "repro"], timeout=1800, **run)
    assert first.returncode == 0, first.stdout + first.stderr
    for name in experiments.REPORT_NAMES:
        assert (repo / SMOKE_REPORTS / f"{name}.md").is_file()
        assert (repo / SMOKE_REPORTS / "html" / f"{name}.html").is_file()
    assert (repo / SMOKE_REPORTS / "metrics.json").is_file()
    assert not (repo / "reports").exists()    # the committed default reports are left alone
    snakemake(repo, "--report", "report.html", "--configfile", "params/smoke.yaml", timeout=300)
    assert "<html" in (repo / "report.html").read_text()[:2000].lower()

    second = subprocess.run([dvc, "repro"], timeout=600, **run)
    assert second.returncode == 0 and "up to date" in second.stdout, second.stdout
    assert "Running stage" not in second.stdout, second.stdout
    assert "Nothing to be done" in snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout
    metrics = subprocess.run([dvc, "metrics", "show", "--json"], check=True, **run).stdout
    assert "table2" in metrics and "r1" in metrics

    data = repo / "data" / "synthetic_smoke"
    before = tree_bytes(data)
    subprocess.run([dvc, "push"], check=True, **run)
    shutil.rmtree(data)
    shutil.rmtree(repo / ".dvc" / "cache")
    subprocess.run([dvc, "pull"], check=True, **run)
    assert tree_bytes(data) == before
    assert "Nothing to be done" in snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout

    check_mlflow_holds_the_runs_and_agrees_with_the_files(repo)
    check_a_dvc_experiment_reruns_only_what_reads_its_parameter(repo, run, dvc)

    profile = yaml.safe_load((repo / "params" / "smoke.yaml").read_text())
    # A longer ActivityNet run with a new learning rate: long enough for a kill to land between checkpoints.
    profile["datasets"]["activitynet"]["optim"].update(lr=2e-4, iterations=200, checkpoint_every=20,
                                                       eval_every=100)
    (repo / "params" / "smoke.yaml").write_text(yaml.safe_dump(profile))
    jobs = planned_jobs(snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout)
    # The ActivityNet run from scratch only: the finetuned ones take their optimisation settings, checkpoint
    # and evaluation steps included, from the finetune section; the probes' data settings are unchanged.
    changed = {"activitynet__r152+s3d_hm__v2__taco"}
    assert Counter(rule for rule, _ in jobs) == {"resolved_config": 1 * SMOKE_SEEDS, "train": 1,
                                                 "effective_profile": 1, "report": 1, "all": 1}
    assert {w["run_id"] for rule, w in jobs if rule == "train"} == changed
    check_a_killed_training_job_resumes(repo, "activitynet__r152+s3d_hm__v2__taco", seed=0, iterations=200)


def check_a_dvc_experiment_reruns_only_what_reads_its_parameter(repo: Path, run: dict, dvc: str) -> None:
    """`dvc exp run -S` on Figure 3's list length: the evaluation and report stages run, training does not."""
    shutil.copy2(ROOT / ".gitignore", repo / ".gitignore")
    for command in (["git", "add", "-A"],
                    ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "baseline"]):
        subprocess.run(command, check=True, **run)
    experiment = subprocess.run([dvc, "exp", "run", "-S", "params/smoke.yaml:figure3.top=3"], timeout=900, **run)
    assert experiment.returncode == 0, experiment.stdout + experiment.stderr
    assert "Running stage 'evaluate'" in experiment.stdout, experiment.stdout
    assert "Running stage 'train'" not in experiment.stdout, experiment.stdout
    figure3 = (repo / SMOKE_REPORTS / "figure3.md").read_text()
    assert "\n| 3 |" in figure3 and "\n| 4 |" not in figure3    # three ranks per query now, five before
    shown = subprocess.run([dvc, "exp", "show", "--json"], check=True, **run).stdout
    assert '"top": 3' in shown and '"top": 5' in shown   # the experiment beside its baseline


def check_mlflow_holds_the_runs_and_agrees_with_the_files(repo: Path) -> None:
    """MLflow holds every finished training run, and tables rebuilt from MLflow equal those from the files."""
    env = environment()
    listing = subprocess.run(
        [sys.executable, "-c", "import json; from taco.tracking import latest_finished_runs as f; "
         "print(json.dumps(sorted(f())))"], cwd=repo, env=env, capture_output=True, text=True, check=True)
    profile = profiles.load_profile(repo / "params" / "smoke.yaml")
    expected = {json.loads((repo / paths.run_metrics_path(run, seed)).read_text())["config_hash"]
                for run in profiles.unique_runs(profile) for seed in profile["seeds"]}
    assert len(expected) == SMOKE_RUNS * SMOKE_SEEDS
    assert expected <= set(json.loads(listing.stdout))
    from_mlflow = repo / "reports_from_mlflow"
    subprocess.run([sys.executable, "-m", "taco", "report", "--profile", "params/smoke.yaml", "--from-mlflow",
                    "--out", str(from_mlflow)], cwd=repo, env=env, check=True, capture_output=True, text=True)
    files, mlflow = report_tables(repo / SMOKE_REPORTS), report_tables(from_mlflow)
    assert files and files == mlflow


def check_a_killed_training_job_resumes(repo: Path, run_id: str, seed: int, iterations: int) -> None:
    """SIGKILL on a training job in the middle of the workflow: no half-written output; started again, the
    workflow resumes the run from its checkpoint and ends with the metrics of an uninterrupted run."""
    env = environment()
    config = repo / paths.config_path(paths.config_name(run_id, seed))
    log = repo / "workflow.log"
    checkpoints = repo / "results" / "runs" / run_id / f"seed{seed}"
    before = {p.parent for p in checkpoints.glob("*/checkpoint.pt")}  # the earlier configuration's run
    workflow = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile",
                                 "params/smoke.yaml"], cwd=repo, env=env, stdout=open(log, "w"),
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    found = []
    while not found and time.time() < deadline and workflow.poll() is None:
        found = [p for p in checkpoints.glob("*/checkpoint.pt") if p.parent not in before]
        time.sleep(0.01)
    killed = processes_running(config.name)
    assert killed, f"the training job should be running at its first checkpoint:\n{log.read_text()}"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    workflow.wait(timeout=600)
    assert workflow.returncode != 0, log.read_text()
    metrics = repo / paths.run_metrics_path(run_id, seed)
    (checkpoint,) = found
    assert torch.load(checkpoint, weights_only=False)["state"]["step"] < iterations
    assert not metrics.exists() and not list(metrics.parent.glob("*.tmp"))

    snakemake(repo, "--configfile", "params/smoke.yaml", timeout=1500)
    resumed = json.loads(metrics.read_text())
    reference = repo / "uninterrupted"
    subprocess.run([sys.executable, "-m", "taco", "train", "--config", str(config), "--out", str(reference),
                    "--no-mlflow", "--quiet"], cwd=repo, env=env, check=True, capture_output=True, timeout=600)
    uninterrupted = json.loads((reference / "metrics.json").read_text())
    assert resumed["test"] == uninterrupted["test"] and resumed["best_step"] == uninterrupted["best_step"]
    assert "Nothing to be done" in snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout


def processes_running(fragment: str) -> list[int]:
    """Ids of the processes whose command line contains ``fragment``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if fragment in command:
                pids.append(int(proc.name))
    return pids


def report_tables(folder: Path) -> dict[str, list[str]]:
    """Each report's lines without its header lines (date, commit, source), which legitimately differ."""
    skip = re.compile(r"(generated|commit|results read from|date)", re.IGNORECASE)
    return {p.name: [line for line in p.read_text().splitlines() if not skip.search(line)]
            for p in sorted(folder.glob("*.md"))}


def test_real_data_with_extract_plans_feature_extraction_before_training(repo, tmp_path):
    """With real releases and data.extract, every feature type the selected runs read is extracted from
    <release>/videos first, per release; a missing weight file is refused before any job, naming the key."""
    real_profile_with_extraction(repo, tmp_path)
    releases = ("youcook2", "activitynet", "msrvtt", "howto100m", "crosstask", "coin")
    weights = {t: tmp_path / f"{t}.pth" for t in ("r152", "s3d_hm")}
    jobs = planned_jobs(snakemake(repo, "-n", "--configfile", "params/real.yaml").stdout)
    extracted = {(w["release"], w["feature_type"]) for rule, w in jobs if rule == "extract_features"}
    assert extracted == {(r, t) for r in releases for t in ("r152", "s3d_hm")}   # the smoke grid's two specs

    weights["s3d_hm"].unlink()
    result = snakemake(repo, "-n", "--configfile", "params/real.yaml", check=False)
    assert result.returncode != 0 and "'data.extract.weights.s3d_hm'" in result.stdout + result.stderr


def real_profile_with_extraction(repo: Path, tmp_path: Path) -> Path:
    """params/real.yaml: the smoke grid on empty real releases under tmp_path, with feature extraction."""
    profile = yaml.safe_load((repo / "params" / "smoke.yaml").read_text())
    releases = ("youcook2", "activitynet", "msrvtt", "howto100m", "crosstask", "coin")
    for release in releases:
        (tmp_path / release / "videos").mkdir(parents=True, exist_ok=True)
    weights = {t: tmp_path / f"{t}.pth" for t in ("r152", "s3d_hm")}
    for path in weights.values():
        path.write_bytes(b"")
    profile["data"] = {"source": "real", "paths": {r: str(tmp_path / r) for r in releases},
                       "extract": {"weights": {t: str(p) for t, p in weights.items()}}}
    path = repo / "params" / "real.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path
