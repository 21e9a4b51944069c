"""The Snakemake workflow and its DVC view, checked on a temporary copy of the repository."""
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from taco import experiments

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "dvc.yaml", ".dvcignore", "workflow", "params", "taco")
VENV_BIN = Path(sys.executable).parent
SMOKE_RUNS = 9           # hand count in test_experiments.test_shipped_profiles_and_their_grids
SMOKE_SEEDS = 2


def copy_repository(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
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
    text_jobs, releases = 3, 3   # youcook2 x {none, noun+verb}, activitynet x noun+verb; 3 releases for Table 10
    assert counts == {
        "synthetic_data": 1, "resolved_config": SMOKE_RUNS * SMOKE_SEEDS + text_jobs + releases,
        "prepare_text": text_jobs, "text_stats": releases, "train": SMOKE_RUNS * SMOKE_SEEDS,
        "evaluate_full_fusion": 2 * SMOKE_SEEDS,   # Table 12's l3_random and l1_l3_cascade (l1_l3_random not in smoke)
        "figure3": 1, "model_size": 1, "effective_profile": 1, "report": 1, "all": 1,
    }
    smoke = experiments.load_profile(ROOT / "params" / "smoke.yaml")
    trained = {(w["run_id"], int(w["seed"])) for rule, w in jobs if rule == "train"}
    assert trained == {(run, seed) for run in experiments.unique_runs(smoke) for seed in smoke["seeds"]}


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
        if match.group(1) in ("train", "prepare_text", "evaluate_full_fusion", "figure3", "model_size", "report"):
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
    assert report_outs == {"reports/README.md", *(f"reports/{name}.md" for name in experiments.REPORT_NAMES)}
    assert stages["report"]["metrics"] == [{"reports/metrics.json": {"cache": False}}]


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
        assert "['base']['optim']['lr']" in message   # Snakemake's validate against the params schema
    assert not (repo / "results").exists() and not (repo / "data").exists()


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_smoke_profile_end_to_end_through_dvc(tmp_path):
    """dvc repro runs the smoke profile; then nothing is left to do for DVC or Snakemake, the data come
    back byte for byte from the default remote without rerunning anything, and a changed training
    parameter reruns only the jobs that read it."""
    repo = copy_repository(tmp_path / "repo")
    dvc_yaml = (repo / "dvc.yaml").read_text().replace("params/default.yaml", "params/smoke.yaml")
    (repo / "dvc.yaml").write_text(dvc_yaml)
    run = dict(cwd=repo, env=environment(), capture_output=True, text=True)
    dvc = str(VENV_BIN / "dvc")
    for command in (["git", "init", "-q"], [dvc, "init", "-q"]):
        subprocess.run(command, check=True, **run)
    shutil.copy2(ROOT / ".dvc" / "config", repo / ".dvc" / "config")   # the default local remote
    first = subprocess.run([dvc, "repro"], timeout=1800, **run)
    assert first.returncode == 0, first.stdout + first.stderr
    for name in experiments.REPORT_NAMES:
        assert (repo / "reports" / f"{name}.md").is_file()
    assert (repo / "reports" / "metrics.json").is_file()

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

    profile = yaml.safe_load((repo / "params" / "smoke.yaml").read_text())
    profile["datasets"]["activitynet"]["optim"]["lr"] = 2e-4
    (repo / "params" / "smoke.yaml").write_text(yaml.safe_dump(profile))
    jobs = planned_jobs(snakemake(repo, "-n", "--configfile", "params/smoke.yaml").stdout)
    assert Counter(rule for rule, _ in jobs) == {"resolved_config": SMOKE_SEEDS, "train": SMOKE_SEEDS,
                                                 "effective_profile": 1, "report": 1, "all": 1}
    assert {w["run_id"] for rule, w in jobs if rule == "train"} == {"activitynet__r152+s3d_hm__v2__taco"}
