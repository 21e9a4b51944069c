"""scripts/compare_runs.py: paired differences of hand-made rows, checked against hand-computed means."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_runs.py"


def write_seed(folder: Path, seed: int, queries: list[int], r1: list[float]) -> None:
    folder.mkdir(parents=True)
    values = {"r1": r1, "r5": r1, "r10": r1, "rank": [1.0] * len(r1)}
    (folder / "metrics.json").write_text(json.dumps({"seed": seed, "queries": queries, "per_query": {"fused": values}}))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_difference_is_paired_on_shared_seeds_and_queries(tmp_path):
    rng = np.random.default_rng(0)
    a = {seed: rng.choice([0.0, 100.0], size=6).tolist() for seed in (0, 1, 2)}
    b = {seed: rng.choice([0.0, 100.0], size=4).tolist() for seed in (0, 1)}
    for seed, values in a.items():
        write_seed(tmp_path / "a" / f"seed{seed}", seed, list(range(6)), values)
    for seed, values in b.items():  # B evaluated queries 2..5 only, seeds 0 and 1 only
        write_seed(tmp_path / "b" / f"seed{seed}", seed, [5, 4, 3, 2], values)
    # R-sum = 3 x R@1 here; pairs: seeds 0, 1 x queries 2..5 (B lists them in reverse order)
    expected = np.mean([3 * (a[s][q] - b[s][5 - q]) for s in (0, 1) for q in range(2, 6)])
    out = run("--row", f"a={tmp_path}/a/seed*/metrics.json", "--row", f"b={tmp_path}/b/seed*/metrics.json",
              "--compare", "a", "b")
    assert out.returncode == 0, out.stderr
    row = out.stdout.splitlines()[2].split("|")
    assert [cell.strip() for cell in row[1:3]] == ["a", "b"]
    assert float(row[3].split("[")[0]) == round(expected, 1)
    assert [cell.strip() for cell in row[5:7]] == ["2", "4"]


def test_bad_rows_are_named(tmp_path):
    out = run("--row", f"a={tmp_path}/none/*.json", "--compare", "a", "a")
    assert out.returncode != 0 and "row a: no metrics.json matches" in out.stderr
    write_seed(tmp_path / "x" / "s0", 0, [0], [100.0])
    out = run("--row", f"a={tmp_path}/x/*/metrics.json", "--compare", "a", "c")
    assert out.returncode != 0 and "no --row named c" in out.stderr
