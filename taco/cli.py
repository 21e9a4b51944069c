"""``python -m taco``: the command line of the library; the workflow only wires files to these commands."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from taco import config as config_module


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML run config (defaults when omitted)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set loss.negatives=random (repeatable)")


def _load_config(args) -> config_module.RunConfig:
    return config_module.load(args.config, args.overrides)


def cmd_train(args) -> int:
    from taco.train import train

    cfg = _load_config(args)
    result = train(cfg, args.out, progress=not args.quiet, track=not args.no_mlflow)
    print(json.dumps({k: result["test"][k] for k in sorted(result["test"]) if k.startswith("fused/t2v")}, indent=1))
    return 0


def _load_run(run_dir: Path, overrides: list[str]):
    import torch

    from taco.train import build_model

    best = run_dir / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"no best.pt in run directory '{run_dir}': train it first")
    saved = torch.load(best, map_location="cpu", weights_only=False)
    cfg = config_module.from_dict(config_module.apply_overrides(saved["config"], overrides))
    model = build_model(cfg, saved["video_dim"])
    model.load_state_dict(saved["model"])
    return cfg, model.eval()


def cmd_evaluate(args) -> int:
    from taco.data.retrieval import RetrievalData
    from taco.train import atomic_write_json, evaluate_split

    cfg, model = _load_run(args.run, args.overrides)
    data = RetrievalData(cfg, progress=not args.quiet)
    metrics = evaluate_split(model, data, args.split, cfg, "cpu", progress=not args.quiet)
    result = {"run": str(args.run), "split": args.split, "eval": cfg.eval.__dict__, "metrics": metrics}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(result, args.out)
    print(json.dumps(result, indent=1, sort_keys=True))
    return 0


def cmd_score(args) -> int:
    """Top-k test segments of free-text queries, for each test-time token weight (Figure 3)."""
    import torch

    from taco.data.retrieval import RetrievalData
    from taco.evaluate import encode_split, score_matrices
    from taco.text.prepare import TextTable  # noqa: F401  (documents the table layout used below)

    cfg, model = _load_run(args.run, args.overrides)
    data = RetrievalData(cfg, progress=not args.quiet)
    split = data.splits[args.split]
    captions = [c.text for c in split.clips]
    rows = []
    for query in args.query:
        if query not in captions:
            raise ValueError(f"query {query!r} is not a caption of the {args.split} split; "
                             f"free text needs its text features cached: pick a caption from the split")
        rows.append(captions.index(query))
    encoded = encode_split(model, data, args.split)
    out = {}
    for weight in args.token_weight:
        cfg.eval.token_weight = weight
        fused = score_matrices(model, encoded, cfg.loss, cfg.eval)["fused"]
        out[str(weight)] = {}
        for query, row in zip(args.query, rows):
            top = torch.topk(fused[row], args.top).indices.tolist()
            out[str(weight)][query] = [{"segment": list(split.segments[j]),
                                        "captions": [c.text for c, s in zip(split.clips, split.text_to_segment) if s == j],
                                        "correct": bool(j == split.text_to_segment[row])} for j in top]
    print(json.dumps(out, indent=1))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taco", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model into a run directory (resumes if it has a checkpoint)")
    _add_config_args(p)
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="retrieval metrics of a trained run on a split")
    p.add_argument("--run", type=Path, required=True, help="run directory holding best.pt")
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override evaluation settings, e.g. --set eval.fusion=full")
    p.add_argument("--out", type=Path, help="write the metrics JSON here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("score", help="top-k retrieved segments for captions of a split (Figure 3)")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--query", action="append", required=True, help="a caption of the split (repeatable)")
    p.add_argument("--token-weight", type=float, nargs="+", default=[0.0, 0.1, 0.5])
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_score)

    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)

    p = sub.add_parser("prepare-text", help="tag, weight and cache the text features of a dataset")
    _add_config_args(p)
    p.set_defaults(func=cmd_prepare_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        import importlib

        return importlib.import_module(DELEGATED[argv[0]][0]).main(argv[1:]) or 0
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (config_module.ConfigError, FileNotFoundError, ValueError, KeyError) as err:
        print(f"taco {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
