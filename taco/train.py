"""Training a TACo model on one retrieval dataset (paper 4.3), resumable and reproducible.

- Adam, linear warm-up then linear decay to zero, weight decay (paper 4.3).
- Step ``s`` draws its batch from a seeded permutation of epoch ``s // steps_per_epoch`` and reseeds
  torch with (seed, s); a run resumed from a checkpoint therefore replays the same steps.
- Checkpoints (model, optimiser, step, best validation score) are written atomically every
  ``checkpoint_every`` steps; ``best.pt`` holds the weights that scored best on the validation split,
  and only those are evaluated on the test split.
- Under torchrun each rank takes its slice of the global batch; gradients are summed over ranks.
- Pretraining then finetuning (paper 4.3, Table 8): ``model.init_from`` names a pretrained run's
  best.pt, loaded before the first step of a fresh run (a resumed run restores its checkpoint
  instead). The config hash covers that path; the file's sha256 is recorded in checkpoint.pt,
  best.pt and metrics.json, and a checkpoint made from other contents of the file is discarded:
  the run starts afresh, so a changed pretrained model always yields a new run.
- A pretraining dataset has no test split (``taco.data.retrieval``): metrics.json then has
  ``"test": {}``, ``has_test_split: false``, and the selected checkpoint's metrics under ``val``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from taco import checkpoint as checkpoint_io
from taco import config as config_module
from taco import distributed
from taco.atomic import write_json, write_text
from taco.config import RunConfig
from taco.data.retrieval import RetrievalData
from taco.evaluate import encode_split, evaluate_scores, evaluated_queries, score_matrices
from taco.losses import TacoLoss
from taco.model.taco_model import TacoModel
from taco.optim import FusedAdam
from taco.tracking import RUN_ID_FILE, Tracker

logger = logging.getLogger("taco.train")

SELECT_METRICS = ("t2v_r1", "t2v_r5", "t2v_r10")
CHECKPOINT_KEYS = ("model", "optimizer", "state", "config_hash")  # the learning rate follows from the step
RUN_FILES = ("checkpoint.pt", "best.pt", "metrics.json", "train_log.jsonl", "val_log.jsonl", RUN_ID_FILE)
LOG_FILES = ("train_log.jsonl", "val_log.jsonl")
MLFLOW_TRAIN_EVERY = 20
"""MLflow gets the training losses of every 20th step (train_log.jsonl has every step): a run of the
default profile then adds ~600 metric rows instead of ~11,000 to the store."""


def atomic_write_json(data: dict, path: Path) -> None:
    write_json(path, data, indent=2, sort_keys=True)


def warmup_linear_decay(warmup: int, total: int):
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


def batch_indices(num_items: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """The global batch of step ``step``: a slice of epoch ``step // steps_per_epoch``'s seeded permutation."""
    steps_per_epoch = num_items // batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {batch_size} exceeds the {num_items} training captions")
    epoch, offset = divmod(step, steps_per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(num_items)
    return order[offset * batch_size:(offset + 1) * batch_size]


def seed_step(seed: int, step: int, device: torch.device) -> int:
    """Reseed the generators training step ``step`` draws from (dropout), so that a resumed run replays
    the same draws: the CPU one and, on a GPU, that device's. Returns the step's seed. ``torch.manual_seed``
    would also queue a lazy seed, with a captured stack trace, for every accelerator backend: ~1 ms,
    6 % of a default step on a CPU."""
    step_seed = seed * 1_000_003 + step
    torch.default_generator.manual_seed(step_seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(step_seed)
    return step_seed


def truncate_log(path: Path, step: int) -> None:
    """Keep the log lines of steps up to ``step``: later steps are replayed after a resume, and a fresh
    start (step 0) keeps none. A torn last line (a crash mid-write) is dropped with a warning."""
    if not path.is_file():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number < len(lines):
                raise ValueError(f"training log '{path}': line {number} is not JSON: {line[:80]!r}") from None
            logger.warning("training log '%s': dropping its torn last line %r", path, line[:80])
            continue
        if record["step"] <= step:
            kept.append(line)
    write_text(path, "".join(line + "\n" for line in kept))


def build_model(cfg: RunConfig, video_dim: int) -> TacoModel:
    return TacoModel(cfg.model, video_dim, cfg.data.max_video_tokens, cfg.data.max_text_tokens)


def build_optimizer(model: torch.nn.Module, cfg: RunConfig) -> FusedAdam:
    """Adam with weight decay (paper 4.3), one fused kernel over all parameters (CPU and CUDA): 4x faster
    than torch's per-tensor loop on this small model; the learning rate is set per step."""
    return FusedAdam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extend_positions(model: torch.nn.Module, weights: dict) -> dict:
    """``weights`` with every shorter position-embedding table (``*position.weight``) completed by the
    model's own initial rows: a model pretrained on 48 video and 30 text tokens finetunes on ActivityNet's
    256 + 256 (the paper finetunes, but cannot evaluate zero-shot, on ActivityNet for this reason)."""
    own = model.state_dict()
    extended = dict(weights)
    for name, table in weights.items():
        mine = own.get(name)
        if (name.endswith("position.weight") and mine is not None and table.shape[1:] == mine.shape[1:]
                and table.shape[0] < mine.shape[0]):
            extended[name] = torch.cat([table, mine[table.shape[0]:].to(table.dtype)])
    return extended


def load_weights(model: torch.nn.Module, weights: dict, source: Path) -> None:
    """``model.load_state_dict(weights)``; a missing, extra or differently shaped parameter raises
    ValueError naming ``source`` and the parameter."""
    own = model.state_dict()
    for name in sorted(set(own) | set(weights)):
        if name not in weights:
            problem = "is missing from it"
        elif name not in own:
            problem = "is not a parameter of this model"
        elif weights[name].shape != own[name].shape:
            problem = f"has shape {tuple(weights[name].shape)}, the model's {tuple(own[name].shape)}"
        else:
            continue
        raise ValueError(f"checkpoint '{source}' does not fit the model: parameter '{name}' {problem} "
                         f"(another video feature width, hidden size, layer count or token limit?)")
    model.load_state_dict(weights)


def load_init(path: str | Path) -> tuple[dict, str]:
    """The weights of a pretrained run's best.pt (``model.init_from``) and the file's sha256."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model.init_from '{path}' does not exist: train the pretraining run first")
    return checkpoint_io.load(path, required=("model",))["model"], file_digest(path)


def load_run(run_dir: str | Path, overrides: list[str]) -> tuple[RunConfig, TacoModel]:
    """The config (with ``overrides``, e.g. another dataset for zero-shot) and the selected model of a
    trained run, read from its best.pt; the model is in eval mode."""
    best = Path(run_dir) / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"no best.pt in run directory '{run_dir}': train it first")
    saved = checkpoint_io.load(best, required=("config", "video_dim", "model"))
    cfg = config_module.from_dict(config_module.apply_overrides(saved["config"], overrides))
    model = build_model(cfg, saved["video_dim"])
    load_weights(model, saved["model"], best)
    return cfg, model.eval()


def evaluate_split(model, data: RetrievalData, split: str, cfg: RunConfig, device, progress=False) -> dict:
    """Metrics of ``split`` (keys ``<score>/<metric>``), its per-query values and the evaluated queries:
    ``{"metrics": ..., "per_query": {score: {metric: [...]}}, "queries": [...]}``. A test set fused on
    all pairs is scored with ``evaluated_queries`` (validation always with all its queries)."""
    if split not in data.splits:
        raise ValueError(f"dataset {cfg.data.dataset} has no {split} split (pretraining data): evaluate the "
                         f"model zero-shot on another dataset, e.g. --set data.dataset=youcook2 --set data.root=...")
    encoded = encode_split(model, data, split, device=device, progress=progress)
    text_to_segment = data.splits[split].text_to_segment
    queries = (evaluated_queries(len(text_to_segment), cfg.loss, cfg.eval) if split == "test"
               else np.arange(len(text_to_segment)))
    if len(queries) < len(text_to_segment):
        encoded = encoded.with_texts(queries)
    scores = score_matrices(model, encoded, cfg.loss, cfg.eval, progress=progress)
    metrics, per_query = evaluate_scores(scores, text_to_segment[queries])
    return {"metrics": metrics, "per_query": per_query, "queries": queries.tolist()}


def selection_score(metrics: dict, cfg: RunConfig) -> float:
    return sum(metrics[f"{cfg.eval.select_score}/{key}"] for key in SELECT_METRICS)


def seed_summary(cfg: RunConfig, result: dict, run_dir: Path, mlflow_run_id: str | None = None) -> str:
    """One log line of a trained seed: what was selected on validation and what it scored on test."""
    selected = result.get("val") or {}
    line = (f"seed {cfg.optim.seed}: best validation R-sum {selection_score(selected, cfg):.1f} "
            f"({cfg.eval.select_score} t2v R@1+R@5+R@10) at step {result['best_step']} of "
            f"{cfg.optim.iterations} -> {run_dir / 'best.pt'}" if selected else
            f"seed {cfg.optim.seed}: no validation score -> {run_dir / 'best.pt'}")
    test = result.get("test") or {}
    score = cfg.eval.select_score
    if all(f"{score}/t2v_{k}" in test for k in ("r1", "r5", "r10")):
        line += "; test {} R@1/5/10 {:.1f}/{:.1f}/{:.1f}".format(
            score, *(test[f"{score}/t2v_{k}"] for k in ("r1", "r5", "r10")))
        if f"{score}/t2v_mr" in test:
            line += f", median rank {test[f'{score}/t2v_mr']:g}"
    elif not result.get("has_test_split", True):
        line += "; no test split (pretraining data)"
    line += f" (config {result['config_hash']}"
    return line + (f", MLflow run {mlflow_run_id})" if mlflow_run_id else ")")


def train(cfg: RunConfig, run_dir: str | Path, progress: bool = True, track: bool = True,
          data: RetrievalData | None = None, evaluate_test: bool = True, mlflow_parent: str | None = None,
          log_checkpoint: bool | None = None) -> dict:
    """Train (or resume) into ``run_dir`` and return the final metrics also written to metrics.json.
    ``evaluate_test=False`` never touches the test split (schedule sweeps, ``taco.sweep``).
    MLflow (``track``): ``mlflow_parent`` nests the seed's run under a setting's parent run
    (``taco.tracking.ParentRun``); at the end the run gets its artifacts (``Tracker.log_training_artifacts``;
    ``log_checkpoint`` adds best.pt, default: the profile's ``tracking.log_checkpoints``)."""
    init_weights, init_sha256 = load_init(cfg.model.init_from) if cfg.model.init_from else (None, "")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    is_main = distributed.rank() == 0
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if torch.cuda.is_available() else torch.device("cpu")
    data = data or RetrievalData(cfg, progress=progress and is_main)
    torch.manual_seed(cfg.optim.seed)
    model = build_model(cfg, data.video_dim).to(device)
    optimizer = build_optimizer(model, cfg)
    schedule = warmup_linear_decay(cfg.optim.warmup, cfg.optim.iterations)
    loss_fn = TacoLoss(cfg.loss)
    state = {"step": 0, "best_score": -math.inf, "best_step": None, "best_val": None}

    checkpoint = run_dir / "checkpoint.pt"
    saved = (checkpoint_io.load(checkpoint, CHECKPOINT_KEYS, map_location=device)
             if checkpoint.is_file() else None)
    if saved is not None:
        if saved["config_hash"] != cfg.hash():
            raise ValueError(f"{checkpoint} belongs to another configuration ({saved['config_hash']} != "
                             f"{cfg.hash()}): use a new run directory or delete it")
        if saved.get("init_sha256", "") != init_sha256:
            logger.warning("%s changed since %s started from it: training afresh", cfg.model.init_from, run_dir)
            for name in RUN_FILES:
                (run_dir / name).unlink(missing_ok=True)
            saved = None
    if saved is None and init_weights is not None:
        load_weights(model, extend_positions(model, init_weights), Path(cfg.model.init_from))
        logger.info("initialised %s from %s", run_dir, cfg.model.init_from)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["state"]
        logger.info("resuming %s from step %d", run_dir, state["step"])
    for log in LOG_FILES:
        truncate_log(run_dir / log, state["step"])

    tags = {**cfg.tags, "config_hash": cfg.hash(), "seed": cfg.optim.seed, "dataset": cfg.data.dataset}
    if init_sha256:
        tags["init_sha256"] = init_sha256
    tracker = Tracker(run_dir, cfg.to_dict(), tags, enabled=track and is_main, parent_run_id=mlflow_parent)
    tracker.start()
    if tracker.run_id:
        logger.info("seed %d: MLflow run %s '%s' in experiment '%s'", cfg.optim.seed, tracker.run_id,
                    tracker.name, tracker.experiment)
    world = distributed.world_size()
    local_batch = cfg.optim.batch_size // world
    log_path = run_dir / "train_log.jsonl"
    train_items = len(data.splits["train"])
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    bar = tqdm(total=cfg.optim.iterations, initial=state["step"], desc=f"train {run_dir.name}",
               disable=not (progress and is_main))
    try:
        while state["step"] < cfg.optim.iterations:
            step = state["step"]
            generator = torch.Generator().manual_seed(seed_step(cfg.optim.seed, step, device))
            indices = batch_indices(train_items, local_batch * world, cfg.optim.seed, step)
            indices = indices[distributed.rank() * local_batch:(distributed.rank() + 1) * local_batch]
            batch = {k: v.to(device) for k, v in data.train_batch(indices).items()}
            if not model.training:  # after a validation (a recursive call: ~0.3 ms, 2 % of a default step)
                model.train()
            with autocast:
                video = model.encode_video(batch["video"], batch["video_mask"])
                text = model.encode_text(batch["text"], batch["text_mask"])
                terms = loss_fn(model, video.float(), batch["video_mask"], text.float(), batch["text_mask"],
                                batch["weights"], generator=generator)
            if not torch.isfinite(terms["loss"]):
                raise FloatingPointError(f"non-finite loss at step {step} in {run_dir}")
            optimizer.zero_grad()
            terms["loss"].backward()
            distributed.sum_gradients(model)
            if cfg.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            optimizer.lr = cfg.optim.lr * schedule(step)
            optimizer.step()
            state["step"] = step + 1
            logged = {k: float(distributed.all_reduce_sum(v.detach())) for k, v in terms.items()}
            logged["lr"] = cfg.optim.lr * schedule(step + 1)  # the next step's, as LambdaLR's get_last_lr
            bar.update(1)
            bar.set_postfix(loss=f"{logged['loss']:.3f}")
            if is_main:
                with open(log_path, "a") as fh:
                    fh.write(json.dumps({"step": state["step"], **logged}) + "\n")
                if state["step"] % MLFLOW_TRAIN_EVERY == 0:
                    tracker.log_metrics({f"train/{k}": v for k, v in logged.items()}, step=state["step"])

            last = state["step"] == cfg.optim.iterations
            if state["step"] % cfg.optim.eval_every == 0 or last:
                val = evaluate_split(model, data, "val", cfg, device)["metrics"]
                score = selection_score(val, cfg)
                if is_main:
                    with open(run_dir / "val_log.jsonl", "a") as fh:
                        fh.write(json.dumps({"step": state["step"], "selection_score": score, **val}) + "\n")
                    tracker.log_metrics({f"val/{k}": v for k, v in val.items()}, step=state["step"])
                if score > state["best_score"]:
                    state.update(best_score=score, best_step=state["step"], best_val=val)
                    if is_main:
                        checkpoint_io.save({"model": model.state_dict(), "config": cfg.to_dict(), "step": state["step"],
                                     "video_dim": data.video_dim, "init_sha256": init_sha256}, run_dir / "best.pt")
            if is_main and (state["step"] % cfg.optim.checkpoint_every == 0 or last):
                tracker.flush()  # before the checkpoint: a resumed run replays (and logs) only later steps
                checkpoint_io.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "state": state, "config_hash": cfg.hash(),
                             "init_sha256": init_sha256},
                            checkpoint)
        bar.close()

        test_split = data.splits.get("test") if evaluate_test else None
        test = {"metrics": {}, "per_query": {}, "queries": []}
        if test_split is not None:
            best = checkpoint_io.load(run_dir / "best.pt", ("model",), map_location=device)
            model.load_state_dict(best["model"])
            test = evaluate_split(model, data, "test", cfg, device, progress=progress and is_main)
        result = {
            "config_hash": cfg.hash(), "tags": cfg.tags, "seed": cfg.optim.seed, "dataset": cfg.data.dataset,
            "init_from": cfg.model.init_from, "init_sha256": init_sha256,
            "best_step": state["best_step"], "val": state["best_val"], "test": test["metrics"],
            "per_query": test["per_query"], "queries": test["queries"],
            "has_test_split": "test" in data.splits, "train_captions": train_items,
            "test_captions": len(test_split) if test_split is not None else 0,
            "test_videos": len(test_split.segments) if test_split is not None else 0,
        }
        if is_main:
            if test["metrics"]:
                tracker.log_metrics({f"test/{k}": v for k, v in test["metrics"].items()}, step=state["step"])
            atomic_write_json(result, run_dir / "metrics.json")
            tracker.log_training_artifacts(run_dir, cfg.to_dict(), log_checkpoint)
            tracker.finish()
            logger.info("%s", seed_summary(cfg, result, run_dir, tracker.run_id))
        return result
    except BaseException:
        bar.close()
        tracker.finish("FAILED")
        raise
