"""The training schedule of a profile, chosen on validation data only (``python -m taco.sweep``).

A schedule (steps, warm-up, learning rate, post- or pre-norm layers) is chosen once per profile and
used identically by every setting of every table: never per setting, never on test data. Training
calls here never evaluate the test split. Two stages, on seed 0 of a few representative runs:

1. *Shape*: each learning rate x norm candidate trains every representative for ``base_steps``; the
   candidate with the highest mean validation R-sum (fused R@1+R@5+R@10 of the selected checkpoint)
   wins.
2. *Length*: with that shape, each representative trains for N, 2N, 4N ... steps (warm-up a fixed
   share of N), until each has reached its plateau: the smallest N at which doubling to 2N moves its
   validation R-sum by less than ``tolerance`` (3 %) of its value. The schedule is the largest
   plateau of the representatives.

Pretraining and finetuning (Table 8) are checked the same way with their own representative.
Results go to ``docs/schedule_sweep.json`` and ``docs/schedule_sweep.md``; each trained run keeps
its ``val_log.jsonl`` (the validation curve) under ``results/sweep/``.
"""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from taco import config as config_module
from taco import experiments, paths, profiles
from taco.atomic import write_json, write_text

STAGES = ("scratch", "pretrain", "finetune")
"""The schedules a profile has, each swept on its own representatives: the keys of the sweep's record."""
TOLERANCE = 0.03
WARMUP_SHARE = 0.1
EVALUATIONS_PER_RUN = 8
SWEEP_DIR = Path(paths.RESULTS_DIR) / "sweep"


@dataclass(frozen=True)
class Candidate:
    """One schedule: ``steps`` at peak ``lr``, warm-up ``WARMUP_SHARE`` of the steps, ``norm_first``."""

    steps: int
    lr: float
    norm_first: bool

    def overrides(self) -> list[str]:
        every = max(1, self.steps // EVALUATIONS_PER_RUN)
        return [f"optim.iterations={self.steps}", f"optim.warmup={round(WARMUP_SHARE * self.steps)}",
                f"optim.lr={self.lr}", f"model.norm_first={self.norm_first}", f"optim.eval_every={every}",
                f"optim.checkpoint_every={every}"]

    @property
    def name(self) -> str:
        return f"steps{self.steps}_lr{self.lr:g}_{'pre' if self.norm_first else 'post'}norm"


def stage_of(run: experiments.Run) -> str:
    """The schedule ``run`` trains with: pretraining, finetuning or from scratch."""
    if run.dataset == experiments.PRETRAIN_DATASET:
        return "pretrain"
    return "finetune" if run.finetuned else "scratch"


def plateau_steps(curve: dict[int, float], tolerance: float = TOLERANCE) -> int | None:
    """The smallest N of ``curve`` (steps -> validation R-sum of a run trained for that many steps)
    whose doubling 2N is also in ``curve`` and moves the R-sum by less than ``tolerance`` of its value."""
    for steps in sorted(curve):
        doubled = curve.get(2 * steps)
        if doubled is not None and abs(doubled - curve[steps]) < tolerance * abs(curve[steps]):
            return steps
    return None


def validation_rsum(result: dict) -> float:
    """Fused text-to-video R@1 + R@5 + R@10 of the selected checkpoint on the validation split."""
    from taco.train import SELECT_METRICS

    return sum(result["val"][f"fused/{key}"] for key in SELECT_METRICS)


def _train_one(job: tuple[dict, str, list[str], str]) -> float:
    """Train one (run, candidate) on seed 0 without touching its test split; its validation R-sum."""
    import torch

    from taco.train import train

    profile, run_id, overrides, out = job
    torch.set_num_threads(1)
    cfg = profiles.run_config(profile, run_id, seed=0)
    cfg = config_module.from_dict(config_module.apply_overrides(cfg.to_dict(), overrides))
    return validation_rsum(train(cfg, out, progress=False, track=False, evaluate_test=False))


def run_jobs(profile: dict, stage: str, jobs: Sequence[tuple[str, Candidate]], overrides: Sequence[str],
             workers: int) -> list[float]:
    """Validation R-sum of each (run id, candidate) with ``overrides`` on top; runs resume if interrupted."""
    payload = [(profile, run_id, [*overrides, *candidate.overrides()], str(SWEEP_DIR / stage / run_id / candidate.name))
               for run_id, candidate in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_train_one, payload))


def sweep(profile: dict, representatives: Sequence[str], lrs: Sequence[float], norms: Sequence[bool],
          base_steps: int, lengths: Sequence[int], run: Callable) -> dict:
    """Stage 1 (shape) then stage 2 (length) over ``representatives`` (module docstring)."""
    shapes = [Candidate(base_steps, lr, norm) for lr in lrs for norm in norms]
    scores = run([(r, c) for c in shapes for r in representatives])
    by_shape = {c: scores[i * len(representatives):(i + 1) * len(representatives)] for i, c in enumerate(shapes)}
    best = max(shapes, key=lambda c: (sum(by_shape[c]) / len(representatives), -shapes.index(c)))
    curves: dict[str, dict[int, float]] = {r: {} for r in representatives}
    for n in sorted(lengths):  # lengths in turn, until every representative has reached its plateau
        for r, score in zip(representatives, run([(r, Candidate(n, best.lr, best.norm_first))
                                                  for r in representatives])):
            curves[r][n] = score
        plateaus = {r: plateau_steps(curve) for r, curve in curves.items()}
        if None not in plateaus.values():
            break
    chosen = None if None in plateaus.values() else max(plateaus.values())
    return {"shape": {c.name: dict(zip(representatives, by_shape[c])) for c in shapes},
            "lr": best.lr, "norm_first": best.norm_first, "curves": curves, "plateaus": plateaus,
            "steps": chosen}


def markdown(result: dict) -> str:
    """The sweep's evidence as a short markdown document."""
    lines = ["# Training schedule of the default profile, chosen on validation data", "",
             "Generated by `python -m taco.sweep` (method: `taco/sweep.py`). Validation R-sum = fused",
             "R@1+R@5+R@10 (text to video) of the selected checkpoint on the held-out validation segments;",
             "seed 0; the test split is never evaluated.", ""]
    for stage, data in result.items():
        lines += [f"## {stage}", "", "### Stage 1: learning rate and norm placement", ""]
        reps = list(next(iter(data["shape"].values())))
        lines += ["| candidate | " + " | ".join(reps) + " | mean |", "|---" * (len(reps) + 2) + "|"]
        for name, values in data["shape"].items():
            row = [f"{values[r]:.1f}" for r in reps]
            lines.append(f"| {name} | " + " | ".join(row) + f" | {sum(values.values()) / len(values):.1f} |")
        lines += ["", f"Chosen: lr {data['lr']:g}, {'pre' if data['norm_first'] else 'post'}-norm.", "",
                  "### Stage 2: steps (validation R-sum of a run trained for N steps)", ""]
        steps = sorted({int(n) for curve in data["curves"].values() for n in curve})
        lines += ["| run | " + " | ".join(map(str, steps)) + " | plateau N |", "|---" * (len(steps) + 2) + "|"]
        for run_id, curve in data["curves"].items():
            curve = {int(n): value for n, value in curve.items()}  # JSON keys are strings
            lines.append(f"| {run_id} | " + " | ".join(f"{curve[n]:.1f}" if n in curve else "" for n in steps)
                         + f" | {data['plateaus'][run_id] or 'not reached'} |")
        verdict = (f"{data['steps']} steps: doubling moves every run's validation R-sum by less than "
                   f"{TOLERANCE:.0%}" if data["steps"] else "no plateau within the swept lengths")
        lines += ["", f"Chosen: {verdict}.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taco.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=Path("params/default.yaml"), help="params profile")
    parser.add_argument("--stage", choices=STAGES, default="scratch",
                        help="which schedule to sweep (default: %(default)s)")
    parser.add_argument("--runs", nargs="+", required=True, help="representative run ids (seed 0)")
    parser.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 3e-3], help="peak learning rates")
    parser.add_argument("--norms", nargs="+", choices=("post", "pre"), default=["post", "pre"],
                        help="layer norm placements")
    parser.add_argument("--base-steps", type=int, default=800, help="steps of stage 1 (default: %(default)s)")
    parser.add_argument("--lengths", nargs="+", type=int, default=[400, 800, 1600, 3200], help="stage 2 steps")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a run config override for every job, e.g. model.init_from=... (finetune stage)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel trainings, 1 thread each")
    parser.add_argument("--out", type=Path, default=Path("docs/schedule_sweep.json"), help="JSON of results")
    args = parser.parse_args(argv)
    profile = profiles.check_profile(yaml.safe_load(args.profile.read_text()), str(args.profile))
    result = sweep(profile, args.runs, args.lrs, [n == "pre" for n in args.norms], args.base_steps, args.lengths,
                   lambda jobs: run_jobs(profile, args.stage, jobs, args.overrides, args.workers))
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    combined = {**previous, args.stage: result}
    write_json(args.out, combined, indent=1, sort_keys=True)
    write_text(args.out.with_suffix(".md"), markdown(combined))
    print(markdown({args.stage: result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
