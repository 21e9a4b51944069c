"""Paired comparison of trained runs on their test queries, as the reports judge a claim (taco.paired).

Each ``--row NAME=GLOB`` names the ``metrics.json`` files of one row, one per seed (a run's
``results/runs/<run>/seed*/*/metrics.json``, or run directories trained by hand with
``python -m taco train``). Each ``--compare A B`` prints A minus B, paired by seed and by test query,
with its 95 % crossed-bootstrap interval, minimum detectable effect and verdict. Trains nothing.

Example (docs/schedule.md): the verdicts against the L3-only baseline with that baseline trained 4x longer::

    python scripts/compare_runs.py \\
        --row taco='results/runs/youcook2__r152+s3d_hm__v1__taco/seed*/*/metrics.json' \\
        --row l3='results/runs/youcook2__r152+s3d_hm__v1__l3_random/seed*/*/metrics.json' \\
        --row l3_6400='scratch/l3_6400/youcook2/seed*/metrics.json' \\
        --compare taco l3 --compare taco l3_6400
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

from taco.paired import PerSeed, paired_difference
from taco.reports.claims import comparison_verdict, metric_label, per_query_value
from taco.reports.inputs import seed_queries


def read_row(name: str, pattern: str, score: str) -> PerSeed:
    """seed -> per-query test values of ``score`` of every metrics.json matching ``pattern``."""
    rows = {}
    for path in sorted(glob.glob(pattern)):
        result = json.loads(Path(path).read_text())
        seed = int(result["seed"])
        if seed in rows:
            raise SystemExit(f"row {name}: two results of seed {seed} match {pattern!r} (one per seed)")
        entry = seed_queries(result, score)
        if entry is None:
            raise SystemExit(f"row {name}: {path} has no per-query '{score}' test values")
        rows[seed] = entry
    if not rows:
        raise SystemExit(f"row {name}: no metrics.json matches {pattern!r}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--row", action="append", required=True, metavar="NAME=GLOB",
                        help="a row: its metrics.json files, one per seed")
    parser.add_argument("--compare", action="append", nargs=2, required=True, metavar=("A", "B"),
                        help="print A minus B (repeatable)")
    parser.add_argument("--score", default="fused", help="the score compared (default: fused)")
    parser.add_argument("--metric", default="rsum", help="rsum (R@1+R@5+R@10), r1, r5, r10 or mr")
    args = parser.parse_args(argv)
    rows = {}
    for spec in args.row:
        name, sep, pattern = spec.partition("=")
        if not sep:
            parser.error(f"--row {spec!r}: expected NAME=GLOB")
        rows[name] = read_row(name, pattern, args.score)
    higher = args.metric not in ("mr", "mean_r")
    print(f"| A | B | A - B, {args.score} t2v {metric_label(args.metric)} [95 % interval] | MDE | seeds | queries "
          f"| claim: A better than B |")
    print("|---|---|---|---|---|---|---|")
    for a, b in args.compare:
        missing = [name for name in (a, b) if name not in rows]
        if missing:
            parser.error(f"--compare {a} {b}: no --row named {', '.join(missing)}")
        interval = paired_difference(rows[a], rows[b], lambda values: per_query_value(values, args.metric), higher)
        if interval is None:
            print(f"| {a} | {b} | no shared seed or query | | | | |")
            continue
        print(f"| {a} | {b} | {interval.estimate:+.1f} [{interval.low:+.1f}, {interval.high:+.1f}] | "
              f"{interval.mde:.1f} | {interval.seeds} | {interval.queries} | {comparison_verdict(interval)} |")


if __name__ == "__main__":
    sys.exit(main())
