"""``python -m taco``: the command line of the library; the workflow only wires files to these commands."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from taco import config as config_module


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML run config (defaults when omitted)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set loss.negatives=random (repeatable)")


def _load_config(args) -> config_module.RunConfig:
    return config_module.load(args.config, args.overrides)


def _recall_line(metrics: dict[str, float], score: str) -> str:
    keys = [f"{score}/t2v_{k}" for k in ("r1", "r5", "r10")]
    return (f"{score} R@1/5/10 " + "/".join(f"{metrics[k]:.1f}" for k in keys)) if all(k in metrics for k in keys) else ""


def _shared_data(cfg, loaded: dict, progress: bool):
    """The dataset ``cfg`` reads: the one in ``loaded`` when its data settings agree (the seeds of a
    run), else a new one, which replaces it (one dataset in memory at a time)."""
    from taco.data.retrieval import RetrievalData

    key = RetrievalData.settings_key(cfg)
    if key not in loaded:
        loaded.clear()
        loaded[key] = RetrievalData(cfg, progress=progress)
    return loaded[key]


def cmd_train(args) -> int:
    """Train each (--config, --out) pair in turn in this one process (the workflow trains a run's seeds
    together: the imports and the dataset are loaded once); a pair's data is reused by the next pair
    when their data settings agree. With MLflow, the pairs of one run id (config tag ``run_id``) are
    nested under one parent run (``taco.tracking.ParentRun``), which gets the mean over its seeds."""
    from taco import distributed
    from taco.tracking import ParentRun
    from taco.train import train

    log = logging.getLogger("taco.cli")
    configs = args.config or [None]
    if len(configs) != len(args.out):
        raise ValueError(f"give one --out per --config: got {len(configs)} configs and {len(args.out)} run directories")
    cfgs = [config_module.load(config_path, args.overrides) for config_path in configs]
    groups: dict[str, list[int]] = {}
    for index, cfg in enumerate(cfgs):
        if cfg.tags.get("run_id"):
            groups.setdefault(str(cfg.tags["run_id"]), []).append(index)
    parents = {run_id: ParentRun([args.out[i] for i in members], cfgs[members[0]].to_dict(), cfgs[members[0]].tags,
                                 enabled=not args.no_mlflow and distributed.rank() == 0
                                 and os.environ.get("RANK", "0") == "0")
               for run_id, members in groups.items()}
    parent_of = {i: run_id for run_id, members in groups.items() for i in members}
    try:
        for run_id, parent in parents.items():
            parent.start()
            seeds = ", ".join(str(cfgs[i].optim.seed) for i in groups[run_id])
            log.info("run %s: seeds %s%s", run_id, seeds, f"; MLflow parent run {parent.run_id} '{parent.name}' in "
                     f"experiment '{parent.experiment}'" if parent.run_id else "")
        loaded, results = {}, {}
        for index, (cfg, out) in enumerate(zip(cfgs, args.out)):
            data = _shared_data(cfg, loaded, progress=not args.quiet)
            parent = parents.get(parent_of.get(index))
            results[index] = train(cfg, out, progress=not args.quiet, track=not args.no_mlflow, data=data,
                                   mlflow_parent=parent.run_id if parent else None, log_checkpoint=args.log_checkpoints)
            run_id = parent_of.get(index)
            if run_id is not None and all(i in results for i in groups[run_id]):
                means = parents[run_id].finish_seeds([results[i] for i in groups[run_id]], step=cfg.optim.iterations)
                split = "test" if any(k.startswith("test/") for k in means) else "val"
                recall = _recall_line({k.removeprefix(f"{split}/"): v for k, v in means.items()}, cfg.eval.select_score)
                log.info("run %s: mean over %d seeds: %s %s", run_id, len(groups[run_id]), split, recall or "-")
    except BaseException:
        for parent in parents.values():
            parent.finish("FAILED")
        raise
    return 0


def cmd_evaluate(args) -> int:
    """Evaluate each --run in turn in this one process (the workflow evaluates a run's seeds together:
    the imports and the dataset are loaded once), writing each result to the --out at its position;
    a run's data is reused by the next run when their data settings agree."""
    from taco.tracking import Tracker
    from taco.train import atomic_write_json, evaluate_split, load_run

    if args.out and len(args.out) != len(args.run):
        raise ValueError(f"give one --out per --run: got {len(args.run)} runs and {len(args.out)} outputs")
    loaded = {}
    for index, run in enumerate(args.run):
        cfg, model = load_run(run, args.overrides)
        tags = {**cfg.tags, "config_hash": cfg.hash(), "seed": cfg.optim.seed, "dataset": cfg.data.dataset,
                "split": args.split, "overrides": " ".join(args.overrides),
                "run_name": f"{cfg.tags.get('run_name', run)} evaluate {' '.join(args.overrides)}".strip()}
        tracker = Tracker(None, cfg.to_dict(), tags, enabled=not args.no_mlflow, job="evaluate")
        tracker.start()
        try:
            data = _shared_data(cfg, loaded, progress=not args.quiet)
            evaluation = evaluate_split(model, data, args.split, cfg, "cpu", progress=not args.quiet)
        except BaseException:
            tracker.finish("FAILED")
            raise
        metrics = evaluation["metrics"]
        tracker.log_metrics({f"{args.split}/{k}": v for k, v in metrics.items()})
        tracker.finish()
        evaluated = data.splits[args.split]
        result = {"run": str(run), "split": args.split, "config_hash": cfg.hash(), "eval": cfg.eval.__dict__,
                  "dataset": cfg.data.dataset, "captions": len(evaluated), "videos": len(evaluated.segments),
                  "metrics": metrics}
        if args.out:
            args.out[index].parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json({**result, "per_query": evaluation["per_query"], "queries": evaluation["queries"]},
                              args.out[index])
        print(json.dumps(result, indent=1, sort_keys=True))
    return 0


def top_retrievals(cfg, model, data, split_name: str, queries: list[str], token_weights: list[float],
                   top: int) -> dict:
    """Top-k test segments of captions of a split for each test-time token weight (Figure 3)."""
    import torch

    from taco.evaluate import encode_split, score_matrices

    split = data.splits[split_name]
    if not 1 <= top <= len(split.segments):
        raise ValueError(f"--top {top}: must be between 1 and the {len(split.segments)} segments of the "
                         f"{split_name} split")
    captions = [c.text for c in split.clips]
    rows = []
    for query in queries:
        if query not in captions:
            raise ValueError(f"query {query!r} is not a caption of the {split_name} split; "
                             f"free text needs its text features cached: pick a caption from the split")
        rows.append(captions.index(query))
    encoded = encode_split(model, data, split_name)
    out = {}
    for weight in token_weights:
        cfg.eval.token_weight = weight
        fused = score_matrices(model, encoded, cfg.loss, cfg.eval)["fused"]
        out[str(weight)] = {}
        for query, row in zip(queries, rows):
            best = torch.topk(fused[row], top).indices.tolist()
            out[str(weight)][query] = [{"segment": list(split.segments[j]),
                                        "captions": [c.text for c, s in zip(split.clips, split.text_to_segment) if s == j],
                                        "correct": bool(j == split.text_to_segment[row])} for j in best]
    return out


def cmd_score(args) -> int:
    """Top-k test segments of free-text queries, for each test-time token weight (Figure 3)."""
    from taco.data.retrieval import RetrievalData
    from taco.train import load_run

    cfg, model = load_run(args.run, args.overrides)
    data = RetrievalData(cfg, progress=not args.quiet)
    print(json.dumps(top_retrievals(cfg, model, data, args.split, args.query, args.token_weight, args.top), indent=1))
    return 0


def cmd_figure3(args) -> int:
    """Figure 3: ``score`` on test captions drawn with a seed, written as JSON."""
    import random

    from taco.data.retrieval import RetrievalData
    from taco.train import atomic_write_json, load_run

    cfg, model = load_run(args.run, [])
    data = RetrievalData(cfg, progress=not args.quiet)
    captions = sorted({c.text for c in data.splits["test"].clips})
    queries = random.Random(args.seed).sample(captions, min(args.queries, len(captions)))
    result = {"run": str(args.run), "split": "test", "top": args.top, "token_weights": args.token_weight,
              "queries": queries,
              "retrievals": top_retrievals(cfg, model, data, "test", queries, args.token_weight, args.top)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(result, args.out)
    return 0


def cmd_model_size(args) -> int:
    """Parameters and FLOPs (Tables 13, 14) of trained runs and of the paper's architecture, as JSON."""
    from taco import experiments
    from taco.train import atomic_write_json

    result = {"video_tokens": experiments.PAPER_VIDEO_TOKENS, "text_tokens": experiments.PAPER_TEXT_TOKENS,
              "runs": {cost["run_id"]: cost for cost in map(experiments.run_cost, args.run)},
              "paper": {str(layers): experiments.paper_cost(layers) for layers in args.paper_video_layers}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(result, args.out)
    print(json.dumps({name: {k: round(v["params_m"], 2) for k, v in group.items()}
                      for name, group in (("runs", result["runs"]), ("paper", result["paper"]))}, indent=1))
    return 0


def cmd_prepare_text(args) -> int:
    from taco.data.retrieval import RetrievalData

    cfg = _load_config(args)
    data = RetrievalData(cfg, progress=True)
    print(json.dumps({name: len(split) for name, split in data.splits.items()}))
    return 0


# Commands whose module has its own argument parser: ``taco <name> --help`` shows it.
DELEGATED = {
    "generate": ("taco.data.synthetic.generate", "write the embedded synthetic benchmark in the real formats"),
    "extract-features": ("taco.features.extract", "extract per-video features from video files"),
}


def cmd_init_tracking(args) -> int:
    """Create the MLflow store and experiment once, before parallel jobs log to it."""
    import yaml

    from taco.tracking import experiment_name, init_tracking_store, tracking_uri
    from taco.train import atomic_write_json

    profile = yaml.safe_load(args.profile.read_text()) if args.profile else {}
    if not isinstance(profile, dict):
        raise ValueError(f"params profile '{args.profile}' must hold a mapping")
    experiment = experiment_name(profile.get("profile"))
    record = {"tracking_uri": tracking_uri(), "experiment": experiment,
              "experiment_id": init_tracking_store(experiment, profile.get("description") or None)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(record, args.out)
    print(json.dumps(record))
    return 0


def cmd_text_stats(args) -> int:
    """Table 10 token counts and Figure 4 idf curves of a dataset's training captions, as JSON."""
    from taco.reports.text_stats import text_statistics
    from taco.train import atomic_write_json

    stats = text_statistics(_load_config(args), samples=args.samples)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stats, args.out)
    print(json.dumps({"dataset": stats["dataset"], "captions": stats["captions"], **stats["statistics"]}))
    return 0


def cmd_report(args) -> int:
    """Every table and figure under ``--out``, from the metrics files or (``--from-mlflow``) from MLflow."""
    from taco.reports.inputs import ReportInputs
    from taco.reports.writer import write_reports

    inputs = ReportInputs(results_dir=args.runs.parent, from_mlflow=args.from_mlflow)
    index = write_reports(args.profile, inputs, args.out, only=args.only)
    print(f"wrote {len(index)} reports" + (" (only)" if args.only else " and README.md, metrics.json")
          + f" under {args.out}")
    return 0


def cmd_probe(args) -> int:
    """The model-free ridge probe of one probe job of the profile (``experiments.Probe``), as JSON."""
    from taco import experiments, profiles
    from taco.data.synthetic.probe import probe_run
    from taco.train import atomic_write_json

    profile, probe = profiles.load_profile(args.profile), experiments.Probe.parse(args.probe)
    result = {"probe": probe.id, "config_hash": profiles.probe_hash(profile, probe),
              **probe_run(*profiles.probe_configs(profile, probe))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(result, args.out)
    print(json.dumps({"probe": args.probe, **result["metrics"]}, indent=1))
    return 0


def cmd_crosstask(args) -> int:
    """CrossTask step localization recall of a trained run (paper 5.2, Table 9)."""
    from taco.downstream.crosstask import evaluate_crosstask

    result = evaluate_crosstask(args.run, args.root, args.features, seed=args.seed,
                                train_per_task=args.train_per_task, out=args.out, track=not args.no_mlflow,
                                progress=not args.quiet)
    print(json.dumps({k: result[k] for k in ("recall", "per_task", "num_test_videos", "seed")}, indent=1))
    return 0


def cmd_coin(args) -> int:
    """COIN action segmentation frame accuracy of a trained run's video encoder (paper 5.2, Table 9)."""
    from taco.downstream.coin import evaluate_coin

    result = evaluate_coin(args.run, args.root, args.features, mode=args.mode, seed=args.seed,
                           iterations=args.iterations, batch_size=args.batch_size, lr=args.lr, out=args.out,
                           track=not args.no_mlflow, progress=not args.quiet)
    print(json.dumps({k: result[k] for k in ("frame_accuracy", "background_only_accuracy", "mode", "seed")},
                     indent=1))
    return 0


def _add_downstream_args(parser: argparse.ArgumentParser, root_help: str) -> None:
    """The arguments CrossTask and COIN share: the run, the release, the seed and the output."""
    parser.add_argument("--run", type=Path, required=True, help="run directory holding best.pt")
    parser.add_argument("--root", type=Path, required=True, help=root_help)
    parser.add_argument("--features", help="feature spec, e.g. r152+s3d_hm (unset: the run's data.features)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the job's own draws (training videos, batches)")
    parser.add_argument("--out", type=Path, required=True, help="write the metrics JSON here")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


PROG = "python -m taco"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default after its help (``(default: ...)``); unset values (None, an off flag, an
    empty list) are not shown."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: ``usage: python -m taco <command>``, defaults shown."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model into a run directory (resumes if it has a checkpoint)")
    p.add_argument("--config", type=Path, action="append",
                   help="YAML run config (defaults when omitted); repeat with --out to train several in turn")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value of every run, e.g. --set loss.negatives=random (repeatable)")
    p.add_argument("--out", type=Path, action="append", required=True, help="run directory, one per --config")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--log-checkpoints", action=argparse.BooleanOptionalAction, default=None,
                   help="log each seed's best.pt as an MLflow artifact (unset: the profile's tracking.log_checkpoints, "
                        "else no)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="retrieval metrics of a trained run on a split")
    p.add_argument("--run", type=Path, action="append", required=True,
                   help="run directory holding best.pt (repeatable: the runs are evaluated in turn)")
    p.add_argument("--split", default="test", choices=["val", "test"], help="split to evaluate")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override evaluation settings, e.g. --set eval.fusion=full (repeatable)")
    p.add_argument("--out", type=Path, action="append",
                   help="write the metrics JSON here (with per-query values); one per --run, in order")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("score", help="top-k retrieved segments for captions of a split (Figure 3)")
    p.add_argument("--run", type=Path, required=True, help="run directory holding best.pt")
    p.add_argument("--split", default="test", choices=["val", "test"], help="split whose segments are ranked")
    p.add_argument("--query", action="append", required=True, help="a caption of the split (repeatable)")
    p.add_argument("--token-weight", type=float, nargs="+", default=[0.0, 0.1, 0.5],
                   help="test-time weights of the token-level score")
    p.add_argument("--top", type=int, default=5, help="segments listed per query and weight")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value of the run (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_score)

    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)

    p = sub.add_parser("figure3", help="top-k retrievals of test captions drawn with a seed, per token weight")
    p.add_argument("--run", type=Path, required=True, help="run directory holding best.pt")
    p.add_argument("--queries", type=int, default=2, help="number of test captions to draw")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw")
    p.add_argument("--token-weight", type=float, nargs="+", default=[0.0, 0.1, 0.5],
                   help="test-time weights of the token-level score")
    p.add_argument("--top", type=int, default=5, help="segments listed per query and weight")
    p.add_argument("--out", type=Path, required=True, help="write the retrievals JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_figure3)

    p = sub.add_parser("model-size", help="parameters and FLOPs of trained runs and of the paper's architecture")
    p.add_argument("--run", type=Path, action="append", default=[], help="run directory holding best.pt (repeatable)")
    p.add_argument("--paper-video-layers", type=int, nargs="*", default=[0, 1, 2, 4],
                   help="video encoder layers of the paper's architectures to count (Table 13)")
    p.add_argument("--out", type=Path, required=True, help="write the JSON here")
    p.set_defaults(func=cmd_model_size)

    p = sub.add_parser("prepare-text", help="tag, weight and cache the text features of a dataset")
    _add_config_args(p)
    p.set_defaults(func=cmd_prepare_text)

    p = sub.add_parser("init-tracking", help="create the MLflow store and experiment before parallel jobs start")
    p.add_argument("--profile", type=Path,
                   help="params profile: create its experiment taco-<profile>, its description as the note "
                        "(unset: the experiment 'taco')")
    p.add_argument("--out", type=Path, help="write a JSON record of the store here (a workflow marker)")
    p.set_defaults(func=cmd_init_tracking)

    p = sub.add_parser("text-stats", help="token statistics (Table 10) and idf curves (Figure 4) of a dataset")
    _add_config_args(p)
    p.add_argument("--samples", type=int, default=30, help="words sampled per idf curve")
    p.add_argument("--out", type=Path, required=True, help="write the JSON here, e.g. results/text_stats/youcook2.json")
    p.set_defaults(func=cmd_text_stats)

    p = sub.add_parser("report", help="write every table and figure of the paper as markdown under --out")
    p.add_argument("--profile", type=Path, required=True, help="params profile, e.g. params/default.yaml")
    p.add_argument("--runs", type=Path, default=Path("results/runs"),
                   help="the runs folder; evaluations/, model_sizes.json and text_stats/ are read beside it")
    p.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
    p.add_argument("--from-mlflow", action="store_true", help="rebuild the results from MLflow instead of the files")
    p.add_argument("--only", nargs="+", metavar="REPORT",
                   help="write only these reports' files (table3 figure2 ...), not the index nor metrics.json")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("probe", help="the model-free ridge probe on a table's test split and features")
    p.add_argument("--profile", type=Path, required=True, help="params profile, e.g. results/profile.yaml")
    p.add_argument("--probe", required=True, help="probe id <dataset>__<features>[__zero_shot]")
    p.add_argument("--out", type=Path, required=True, help="write the JSON here, e.g. results/probe/<id>.json")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("crosstask", help="CrossTask action step localization recall of a trained run (Table 9)")
    _add_downstream_args(p, "CrossTask release folder (with features/)")
    p.add_argument("--train-per-task", type=int, default=30, help="training videos drawn per task (official: 30)")
    p.set_defaults(func=cmd_crosstask)

    p = sub.add_parser("coin", help="COIN action segmentation accuracy of a trained run's video encoder (Table 9)")
    _add_downstream_args(p, "COIN folder (COIN.json and features/)")
    p.add_argument("--mode", choices=["linear_probe", "finetune"], default="linear_probe",
                   help="train the linear head only, or the video encoder too")
    p.add_argument("--iterations", type=int, default=300, help="training steps of the segmentation head")
    p.add_argument("--batch-size", type=int, default=16, help="32-second windows per step")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.set_defaults(func=cmd_coin)
    return parser


def use_threads() -> None:
    """One compute thread per job unless TACO_THREADS (or else OMP_NUM_THREADS) asks for more: jobs run
    side by side, a second thread gains at most 1.1x alone and loses 3-10x when two jobs share two cores
    (issue 11). Set before torch and numpy load, OMP_NUM_THREADS also limits their BLAS threads."""
    threads = os.environ.get("TACO_THREADS") or os.environ.get("OMP_NUM_THREADS") or "1"
    os.environ["OMP_NUM_THREADS"] = threads
    if "torch" in sys.modules:  # called in-process after torch loaded (tests)
        sys.modules["torch"].set_num_threads(int(threads))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    use_threads()
    if argv and argv[0] in DELEGATED:
        import importlib

        return importlib.import_module(DELEGATED[argv[0]][0]).main(argv[1:], prog=f"{PROG} {argv[0]}") or 0
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (config_module.ConfigError, FileNotFoundError, ValueError, KeyError) as err:
        print(f"taco {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
