"""Stale Snakemake locks are cleared after a killed run, never while a Snakemake process lives."""
import subprocess
import sys

from taco.workflow_lock import LOCKS, clear_stale_locks, runs_snakemake


def fake_locks(workdir):
    (workdir / LOCKS).mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (workdir / LOCKS / name).write_text(f"{workdir}/results/x\n")
    return sorted((workdir / LOCKS).glob("*.lock"))


def start_fake_snakemake(cwd):
    """A process whose command line runs "snakemake" in ``cwd``, as ``python -m snakemake`` would.
    Returns once it runs Python code: Popen can return while the kernel is still setting up the
    new program's arguments, when /proc/PID/cmdline reads empty."""
    process = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)",
                                "snakemake"], cwd=cwd, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    return process


def test_locks_of_a_live_run_stay_and_of_a_dead_run_go(tmp_path):
    locks = fake_locks(tmp_path)
    live = start_fake_snakemake(tmp_path)
    try:
        assert clear_stale_locks(tmp_path) == []
        assert all(lock.exists() for lock in locks)
    finally:
        live.kill()
        live.communicate()
    assert clear_stale_locks(tmp_path) == locks
    assert not any(lock.exists() for lock in locks)


def test_snakemake_in_another_directory_does_not_protect_these_locks(tmp_path):
    (tmp_path / "other").mkdir()
    locks = fake_locks(tmp_path / "here")
    elsewhere = start_fake_snakemake(tmp_path / "other")
    try:
        assert clear_stale_locks(tmp_path / "here") == locks
    finally:
        elsewhere.kill()
        elsewhere.communicate()


def test_command_lines_that_run_snakemake():
    assert runs_snakemake(["/x/.venv/bin/python", "/x/.venv/bin/snakemake", "--cores", "all"])
    assert runs_snakemake(["python", "-m", "snakemake", "--cores", "2"])
    assert not runs_snakemake(["python", "-m", "taco", "train", "--out", "results/snakemake_runs"])
