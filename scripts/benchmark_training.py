"""Measured costs of TACo's training step and of fused evaluation (prints figures, asserts nothing).

0. (always) Steps/s of the default profile's training step (params/default.yaml, YouCook2 of the
   synthetic world, 1 video layer) before and after the fast paths of issue 11, in one run:
   "before" = every pair's whole sequence through every fusion layer (``fusion.first_token_only =
   False``), per-item feature reads (no preloaded training features) and the per-tensor Adam loop
   (not fused); "after" = the defaults (the last fusion layer computes the [CLS] row alone, each text
   and each placed video embedded, normed and projected to keys and values once however many pairs
   share it). Rounds alternate between the two, so machine noise hits both alike.
With --costs also:
1. Training-step time at K=128 for L1 only, L1+L2, L1+L2+L3 with cascade (K'=8) and L3 over all
   K x K pairs, with the cascade selection's own share of the step (paper 3.3: "no extra cost").
2. Fused evaluation over N=1000 texts and videos: every N x N pair through the fusion layers
   against re-ranking each query's top-k (k=50): time and R@1/5/10 difference.

Inputs are random features at the paper's token counts (48 video, 30 text); the model is the
CPU-sized one (d=128, 1 video layer, 2 fusion layers; --hidden to change).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml

from taco import config, losses
from taco.config import EvalConfig, LossConfig, ModelConfig
from taco.data import retrieval
from taco.evaluate import EncodedSet, evaluate_scores, score_matrices
from taco.model.taco_model import TacoModel
from taco.train import build_optimizer


def random_batch(k, m, n, video_dim, text_dim, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(k, m, video_dim, generator=g)
    text = torch.randn(k, n, text_dim, generator=g)
    video_mask = torch.arange(m)[None] < torch.randint(m // 2, m + 1, (k, 1), generator=g)
    text_mask = torch.arange(n)[None] < torch.randint(6, n + 1, (k, 1), generator=g)
    weights = torch.rand(k, n, generator=g) * text_mask * (torch.rand(k, n, generator=g) < 0.35)
    weights[:, 0] = 0
    weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-9)
    return video, video_mask, text, text_mask, weights


def time_step(model, loss_fn, batch, repeats):
    video, video_mask, text, text_mask, weights = batch
    times = []
    for r in range(repeats + 1) if repeats else [1]:
        start = time.perf_counter()
        x = model.encode_video(video, video_mask)
        y = model.encode_text(text, text_mask)
        out = loss_fn(model, x, video_mask, y, text_mask, weights, generator=torch.Generator().manual_seed(r))
        model.zero_grad(set_to_none=True)
        out["loss"].backward()
        if r:  # the first of several repeats warms up
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_cascade_selection(model, batch, repeats):
    video, video_mask, text, text_mask, weights = batch
    with torch.no_grad():
        x, y = model.encode_video(video, video_mask), model.encode_text(text, text_mask)
        scores = losses.global_scores(x, video_mask, y)
        texts, positions = weights.nonzero(as_tuple=True)
        tokens = losses.token_scores(y[texts, positions], x, video_mask)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        combined = scores.index_add(0, texts, tokens)
        losses.cascade_negatives(combined, 8)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_steps(args, model_cfg):
    batch = random_batch(args.k, 48, 30, args.video_dim, 384)
    model = TacoModel(model_cfg, args.video_dim, 48, 30)
    settings = {
        "L1": LossConfig(use_l1=True, use_l2=False, use_l3=False),
        "L1+L2": LossConfig(use_l1=True, use_l2=True, use_l3=False),
        "L1+L2+L3 cascade K'=8": LossConfig(negatives="cascade", k_prime=8),
        "L3 all KxK pairs": LossConfig(use_l1=False, use_l2=False, negatives="full"),
    }
    print(f"\n## Training step, K={args.k}, d={model_cfg.hidden_size}, "
          f"{model_cfg.video_layers} video / {model_cfg.fusion_layers} fusion layers, {torch.get_num_threads()} threads")
    print("| losses | step time (s) |\n|---|---:|")
    results = {}
    for name, cfg in settings.items():
        repeats = 0 if cfg.negatives == "full" else args.repeats  # one timed step: it takes minutes
        results[name] = time_step(model, losses.TacoLoss(cfg), batch, repeats)
        print(f"| {name} | {results[name]:.3f} |", flush=True)
    selection = time_cascade_selection(model, batch, args.repeats)
    cascade = results["L1+L2+L3 cascade K'=8"]
    print(f"\ncascade selection alone (combine scores + top-K' both ways): {selection * 1000:.2f} ms = "
          f"{100 * selection / cascade:.2f} % of the cascade step; "
          f"all-pairs L3 step / cascade step = {results['L3 all KxK pairs'] / cascade:.1f}x")


def fused_evaluation(args, model_cfg):
    n = args.n
    model = TacoModel(model_cfg, args.video_dim, 48, 30).eval()
    # Correlated texts and videos so that retrieval is not at chance and re-ranking has something to do.
    video, video_mask, text, text_mask, weights = random_batch(n, 48, 30, args.video_dim, 384, seed=1)
    with torch.no_grad():
        x, y = model.encode_video(video, video_mask), model.encode_text(text, text_mask)
        y = y + 0.5 * losses.masked_mean(x, video_mask)[:, None]
    encoded = EncodedSet(y, text_mask, weights, x, video_mask)
    loss_cfg = LossConfig()
    print(f"\n## Fused evaluation, N={n} texts x {n} videos, fusion batch {args.fusion_batch}")
    print("| fusion | pairs through fusion | time (s) | R@1 | R@5 | R@10 |\n|---|---:|---:|---:|---:|---:|")
    rows = {}
    for mode in ("rerank", "full"):
        eval_cfg = EvalConfig(fusion=mode, rerank_k=args.rerank_k, fusion_batch_size=args.fusion_batch)
        start = time.perf_counter()
        scores = score_matrices(model, encoded, loss_cfg, eval_cfg, progress=True)
        elapsed = time.perf_counter() - start
        metrics, _ = evaluate_scores({"fused": scores["fused"]}, torch.arange(n).numpy())
        rows[mode] = metrics
        pairs = n * n if mode == "full" else "<= 2 N k"
        print(f"| {mode} (k={args.rerank_k}) | {pairs} | {elapsed:.1f} | {metrics['fused/t2v_r1']:.2f} | "
              f"{metrics['fused/t2v_r5']:.2f} | {metrics['fused/t2v_r10']:.2f} |", flush=True)
    diff = {k: rows["rerank"][f"fused/t2v_r{k}"] - rows["full"][f"fused/t2v_r{k}"] for k in (1, 5, 10)}
    print("rerank - full (t2v): " + ", ".join(f"R@{k} {v:+.2f}" for k, v in diff.items()))


def default_profile_config(params: Path, root: Path) -> config.RunConfig:
    base = yaml.safe_load(params.read_text())["base"]
    return config.from_dict({**base, "data": {**base["data"], "dataset": "youcook2", "root": str(root),
                                               "features": "r152+s3d_hm"},
                             "model": {**base["model"], "video_layers": 1}})


class Trainer:
    """One variant of the training step: its own data, model and Adam, seeded alike."""

    def __init__(self, cfg: config.RunConfig, fast: bool):
        self.data = retrieval.RetrievalData(cfg)
        if fast:
            self.data.train_batch([0])  # preloads the training features (outside the timing)
        else:
            self.data.preloaded_train = None  # train_batch reads every item from the memory maps
        torch.manual_seed(0)
        self.model = TacoModel(cfg.model, self.data.video_dim, cfg.data.max_video_tokens, cfg.data.max_text_tokens)
        self.model.fusion.first_token_only = fast
        self.optimizer = (build_optimizer(self.model, cfg) if fast else  # before: torch's per-tensor Adam loop
                          torch.optim.Adam(self.model.parameters(), lr=cfg.optim.lr,
                                           weight_decay=cfg.optim.weight_decay, foreach=False))
        self.loss = losses.TacoLoss(cfg.loss)
        self.batch_size = cfg.optim.batch_size
        self.items = len(self.data.splits["train"])

    def step(self, step: int) -> None:
        batch = self.data.train_batch(torch.randperm(self.items, generator=torch.Generator().manual_seed(step))[
            :self.batch_size].numpy())
        video = self.model.encode_video(batch["video"], batch["video_mask"])
        text = self.model.encode_text(batch["text"], batch["text_mask"])
        loss = self.loss(self.model, video, batch["video_mask"], text, batch["text_mask"], batch["weights"])["loss"]
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def before_after(args):
    cfg = default_profile_config(args.params, args.root)
    print(f"## Default training step before / after (YouCook2, batch {cfg.optim.batch_size}, d={cfg.model.hidden_size}, "
          f"{cfg.model.fusion_layers} fusion layer(s), K'={cfg.loss.k_prime}, {torch.get_num_threads()} thread(s))")
    trainers = {"before": Trainer(cfg, fast=False), "after": Trainer(cfg, fast=True)}
    seconds = {name: [] for name in trainers}
    for name, trainer in trainers.items():
        trainer.model.train()
        for step in range(3):  # warm-up
            trainer.step(step)
    for round_ in range(args.rounds):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            for step in range(args.steps):
                trainer.step(1000 * round_ + step)
            seconds[name].append((time.perf_counter() - start) / args.steps)
    per_step = {name: statistics.median(values) for name, values in seconds.items()}
    print("| path | steps/s | ms/step |\n|---|---:|---:|")
    for name, value in per_step.items():
        print(f"| {name} | {1 / value:.1f} | {1000 * value:.1f} |")
    print(f"speed-up: {per_step['before'] / per_step['after']:.2f}x "
          f"(median of {args.rounds} alternating rounds of {args.steps} steps)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=128)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rerank-k", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--video-dim", type=int, default=448)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fusion-batch", type=int, default=4096)
    parser.add_argument("--skip", choices=["train", "eval"], action="append", default=[])
    parser.add_argument("--params", type=Path, default=Path("params/default.yaml"))
    parser.add_argument("--root", type=Path, default=Path("data/synthetic/youcook2"),
                        help="the synthetic world's YouCook2 (python -m taco.data.synthetic.generate)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--costs", action="store_true", help="also sections 1 and 2 (minutes)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as every job of the workflow runs (taco.cli.use_threads)
    before_after(args)
    if not args.costs:
        return
    torch.manual_seed(0)
    model_cfg = ModelConfig(hidden_size=args.hidden, num_heads=max(1, args.hidden // 64), dropout=0.1)
    if "train" not in args.skip:
        training_steps(args, model_cfg)
    if "eval" not in args.skip:
        fused_evaluation(args, model_cfg)


if __name__ == "__main__":
    main()
