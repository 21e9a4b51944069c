"""Where a workflow run's time went: Snakemake's per-job benchmark files summed by stage.

Every rule writes ``results/benchmarks/<stage>/...tsv`` (Snakemake's ``benchmark:`` directive: wall
seconds ``s`` and peak resident memory ``max_rss`` in MB of the job's process tree). This prints, per
stage, the job count, the job-seconds (the sum of the jobs' wall times, i.e. what the cores were busy
with), their share, the slowest job and the largest peak memory of one job. On N cores the run cannot
take less than job-seconds / N. Evaluations are split by kind (``evaluate/<kind>``).

Usage: python scripts/job_time.py [results/benchmarks]
"""
from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    seconds: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    slowest: str = ""

    def add(self, name: str, seconds: float, rss_mb: float) -> None:
        if not self.seconds or seconds > max(self.seconds):
            self.slowest = name
        self.seconds.append(seconds)
        self.peak_mb = max(self.peak_mb, rss_mb)


def stage_of(relative: Path) -> str:
    """``train/<run>.tsv`` -> ``train``; ``evaluate/<run>/seed0/coin_probe.tsv`` -> ``evaluate/coin_probe``;
    a file at the top (``report.tsv``, ``report_table3.tsv``) -> its name before any ``_``."""
    if len(relative.parts) == 1:
        return relative.stem.split("_")[0] if relative.stem.startswith("report") else relative.stem
    if relative.parts[0] == "evaluate":
        return f"evaluate/{relative.stem}"
    return relative.parts[0]


def read_benchmark(path: Path) -> tuple[float, float]:
    """(wall seconds, max RSS in MB) of one Snakemake benchmark file (its last row: a repeated benchmark
    appends rows); an unmeasured RSS ("NA", "-") counts as 0."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "s" not in rows[-1]:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column)")
    row = rows[-1]
    try:
        rss = float(row.get("max_rss") or 0)
    except ValueError:
        rss = 0.0
    return float(row["s"]), rss


def summarise(root: Path) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    for path in sorted(root.rglob("*.tsv")):
        relative = path.relative_to(root)
        seconds, rss = read_benchmark(path)
        stages.setdefault(stage_of(relative), Stage()).add(str(relative.with_suffix("")), seconds, rss)
    return stages


def table(stages: dict[str, Stage]) -> str:
    total = sum(sum(s.seconds) for s in stages.values())
    lines = ["| stage | jobs | job-seconds | share | slowest job (s) | largest peak RSS of a job (MiB) |",
             "|---|---:|---:|---:|---|---:|"]
    for name, stage in sorted(stages.items(), key=lambda item: -sum(item[1].seconds)):
        seconds = sum(stage.seconds)
        lines.append(f"| {name} | {len(stage.seconds)} | {seconds:,.0f} | {100 * seconds / total:.1f} % | "
                     f"{stage.slowest} ({max(stage.seconds):,.0f}) | {stage.peak_mb:,.0f} |")
    jobs = sum(len(s.seconds) for s in stages.values())
    lines.append(f"| all | {jobs} | {total:,.0f} | 100 % | | {max(s.peak_mb for s in stages.values()):,.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", type=Path, default=Path("results/benchmarks"))
    args = parser.parse_args()
    if not args.root.is_dir():
        print(f"no benchmark folder '{args.root}': run the workflow first (make reproduce)", file=sys.stderr)
        return 2
    try:
        stages = summarise(args.root)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if not stages:
        print(f"'{args.root}' holds no benchmark files", file=sys.stderr)
        return 2
    print(table(stages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
