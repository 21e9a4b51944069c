"""scripts/job_time.py: Snakemake benchmark files (their published column layout) summed by stage."""
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "job_time.py"
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write(root: Path, relative: str, seconds: float, rss: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t{rss}\t900.0\t100.0\t110.0\t0.1\t0.2\t90.0\t{seconds}\n")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def rows(output: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in output.splitlines()[2:]]
    return {row[0]: row[1:] for row in cells}


def test_stages_sum_their_jobs(tmp_path):
    write(tmp_path, "train/youcook2__taco.tsv", 300.0, "600.5")
    write(tmp_path, "train/msrvtt__taco.tsv", 100.0, "700.0")
    write(tmp_path, "evaluate/youcook2__taco/seed0/crosstask.tsv", 40.0, "NA")
    write(tmp_path, "evaluate/youcook2__taco/seed1/crosstask.tsv", 20.0, "300")
    write(tmp_path, "evaluate/youcook2__taco/seed0/coin_probe.tsv", 30.0, "300")
    write(tmp_path, "report_table3.tsv", 10.0, "200")
    write(tmp_path, "report.tsv", 0.0, "-")
    result = run(str(tmp_path))
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    # train: 2 jobs, 400 of the 500 job-seconds, slowest youcook2 (300 s), largest RSS 700 MiB
    assert table["train"] == ["2", "400", "80.0 %", "train/youcook2__taco (300)", "700"]
    assert table["evaluate/crosstask"][:3] == ["2", "60", "12.0 %"]
    assert table["evaluate/coin_probe"][:2] == ["1", "30"]
    assert table["report"][:2] == ["2", "10"]
    assert table["all"][:3] == ["7", "500", "100 %"]
    assert list(table)[0] == "train"  # the costliest stage first


def test_a_later_row_of_a_repeated_benchmark_counts(tmp_path):
    write(tmp_path, "text/a.tsv", 5.0, "10")
    path = tmp_path / "text" / "a.tsv"
    path.write_text(path.read_text() + "7.0\t0:00:07\t20\t1\t1\t1\t0\t0\t0\t7\n")
    assert rows(run(str(tmp_path)).stdout)["text"][:2] == ["1", "7"]


def test_bad_input_is_named(tmp_path):
    assert run(str(tmp_path / "missing")).returncode == 2
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n")
    result = run(str(tmp_path))
    assert result.returncode != 0 and "x.tsv" in result.stderr and "'s' column" in result.stderr
