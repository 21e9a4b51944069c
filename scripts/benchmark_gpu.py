"""GPU throughput of the paper profile (prints figures, asserts nothing; needs a CUDA device).

1. Training step of the paper's ablation architecture (params/paper.yaml): BERT-base finetuned
   (12 layers, d=768; randomly initialised from its published config, since no weights can be
   downloaded, which leaves the arithmetic unchanged), 1 video layer and 2 fusion layers at d=768,
   K=128 pairs, L1+L2+L3 with cascade hard negatives K'=8, bf16 autocast, fused Adam: steps/s, the
   step's floating-point operations (torch's FLOP counter, forward and backward), achieved TFLOP/s
   against the card's measured bf16 matrix-product rate, and peak memory.
2. Fused evaluation (paper 3.4) of N texts x N videos with the same model: re-ranking each query's
   top-k against every pair through the fusion layers, in bf16: time, TFLOP/s and peak memory.

Usage: python scripts/benchmark_gpu.py [--n 1000] [--steps 30]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from taco import losses
from taco.config import EvalConfig, LossConfig, ModelConfig
from taco.evaluate import EncodedSet, score_matrices
from taco.model.taco_model import TacoModel
from taco.train import build_optimizer

VIDEO_TOKENS, TEXT_TOKENS, VOCAB = 48, 30, 30522       # paper 4.3 token counts; BERT's wordpiece vocabulary
VIDEO_DIM = 2048 + 512                                 # r152 (2048) + S3D HowTo100M (512), concatenated


def matmul_ceiling(device, size=8192, repeats=10) -> float:
    """Measured bf16 dense matrix-product rate (TFLOP/s) on random data: the card's practical peak."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        a @ b
    end.record()
    torch.cuda.synchronize()
    return 2 * size ** 3 * repeats / (start.elapsed_time(end) / 1000) / 1e12


def bert_base_folder(path: str) -> str:
    """A local BERT-base folder (published config, seeded random weights) for the finetune path."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(path)
    return path


def random_inputs(k, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(k, VIDEO_TOKENS, VIDEO_DIM, generator=g)
    video_mask = torch.arange(VIDEO_TOKENS)[None] < torch.randint(VIDEO_TOKENS // 2, VIDEO_TOKENS + 1, (k, 1), generator=g)
    tokens = torch.randint(1000, VOCAB, (k, TEXT_TOKENS), generator=g)
    text_mask = torch.arange(TEXT_TOKENS)[None] < torch.randint(8, TEXT_TOKENS + 1, (k, 1), generator=g)
    weights = torch.rand(k, TEXT_TOKENS, generator=g) * text_mask * (torch.rand(k, TEXT_TOKENS, generator=g) < 0.35)
    weights[:, 0] = 0
    weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-9)
    return [t.to(device) for t in (video, video_mask, tokens, text_mask, weights)]


def training(model, args, device, ceiling):
    loss_fn = losses.TacoLoss(LossConfig(k_prime=8))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5, fused=True)
    batches = [random_inputs(args.k, device, seed) for seed in range(4)]  # rotated: no cache-resident reuse

    def step(i):
        video, video_mask, tokens, text_mask, weights = batches[i % len(batches)]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            x = model.encode_video(video, video_mask)
            y = model.encode_text(tokens, text_mask)
            loss = loss_fn(model, x.float(), video_mask, y.float(), text_mask, weights)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    model.train()
    for i in range(5):
        step(i)
    with FlopCounterMode(display=False) as counter:
        step(0)
    flops = counter.get_total_flops()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    rounds = []
    for r in range(args.rounds):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(args.steps):
            loss = step(i)
        torch.cuda.synchronize()
        rounds.append((time.perf_counter() - start) / args.steps)
    per_step = statistics.median(rounds)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30
    print(f"\n## Training step, paper profile (K={args.k}, K'=8, BERT-base finetuned, d=768, 1 video / 2 fusion "
          f"layers, bf16 autocast, fused Adam)")
    print(f"last loss {float(loss):.4f}; {per_step * 1000:.1f} ms/step (median of {args.rounds} rounds of "
          f"{args.steps}; spread {min(rounds) * 1000:.1f}-{max(rounds) * 1000:.1f} ms)")
    print(f"| steps/s | GFLOP/step | achieved TFLOP/s | of measured bf16 peak | peak memory (GiB) |")
    print(f"|---:|---:|---:|---:|---:|")
    print(f"| {1 / per_step:.2f} | {flops / 1e9:.0f} | {flops / per_step / 1e12:.1f} | "
          f"{100 * flops / per_step / 1e12 / ceiling:.1f} % | {peak:.2f} |")


def evaluation(model, args, device, ceiling):
    model.eval()
    video, video_mask, tokens, text_mask, weights = random_inputs(args.n, device, seed=7)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        x = model.encode_video(video, video_mask).float()
        y = model.encode_text(tokens, text_mask).float()
    encoded = EncodedSet(y, text_mask, weights, x, video_mask)
    print(f"\n## Fused evaluation, N={args.n} texts x {args.n} videos (bf16 autocast)")
    print("| fusion | time (s) | GFLOP | achieved TFLOP/s | of measured bf16 peak | peak memory (GiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, batch in (("rerank", 4096), ("full", 8192)):
        eval_cfg = EvalConfig(fusion=mode, rerank_k=args.rerank_k, fusion_batch_size=batch)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            score_matrices(model, encoded, LossConfig(), eval_cfg)  # warm-up
            with FlopCounterMode(display=False) as counter:
                score_matrices(model, encoded, LossConfig(), eval_cfg)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            score_matrices(model, encoded, LossConfig(), eval_cfg)
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        flops = counter.get_total_flops()
        name = f"rerank top-{args.rerank_k}" if mode == "rerank" else "every pair"
        print(f"| {name} | {seconds:.2f} | {flops / 1e9:.0f} | {flops / seconds / 1e12:.1f} | "
              f"{100 * flops / seconds / 1e12 / ceiling:.1f} % | {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=128)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rerank-k", type=int, default=50)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmark_gpu.py needs a CUDA device (the CPU benchmark is scripts/benchmark_training.py)")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    ceiling = matmul_ceiling(device)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; measured bf16 matrix product "
          f"(8192^3, random data): {ceiling:.0f} TFLOP/s")
    with tempfile.TemporaryDirectory() as folder:
        cfg = ModelConfig(hidden_size=768, num_heads=12, video_layers=1, fusion_layers=2, ffn_multiplier=4,
                          dropout=0.1, norm_first=False, text_model=bert_base_folder(folder), text_mode="finetune",
                          text_top_layers=0)
        torch.manual_seed(0)
        model = TacoModel(cfg, VIDEO_DIM, VIDEO_TOKENS, TEXT_TOKENS).to(device)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
    training(model, args, device, ceiling)
    evaluation(model, args, device, ceiling)


if __name__ == "__main__":
    main()
