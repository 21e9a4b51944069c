"""GPU throughput of the paper profile (prints figures, asserts nothing; needs a CUDA device).

1. Training step of the paper's ablation architecture (params/paper.yaml): BERT-base finetuned
   (12 layers, d=768; randomly initialised from its published config, since no weights can be
   downloaded, which leaves the arithmetic unchanged), 1 video layer and 2 fusion layers at d=768,
   K=128 pairs of r152+s3d_hm features, L1+L2+L3 with cascade hard negatives K'=8, bf16 autocast,
   fused Adam (``taco.optim.FusedAdam``, so its CUDA path runs too): steps/s, the step's
   floating-point operations (torch's FLOP counter, forward and backward), achieved TFLOP/s against
   the card's measured bf16 matrix-product rate, peak memory.
   The same for the pretraining step (paper 4.3: batch 64, 4 video layers, S3D features).
2. Fused evaluation (paper 3.4) of N texts x N videos with the ablation model: re-ranking each
   query's top-k against every pair through the fusion layers, in bf16: time, TFLOP/s, peak memory.
3. Feature extraction backbones (taco/features, full size, random weights, bf16 autocast as in
   ``extract_video``): rows/s and video seconds/s on random frames (decoding not included).

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
from taco.features.extract import EXTRACTORS, _model_input
from taco.model.taco_model import TacoModel
from taco.optim import FusedAdam

VIDEO_TOKENS, TEXT_TOKENS, VOCAB = 48, 30, 30522       # paper 4.3 token counts; BERT's wordpiece vocabulary
FEATURE_DIMS = {"r152+s3d_hm": 2048 + 1024, "s3d_hm": 1024}   # ResNet-152 pool, S3D mixed_5c


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


def random_inputs(k, device, video_dim, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(k, VIDEO_TOKENS, video_dim, generator=g)
    video_mask = torch.arange(VIDEO_TOKENS)[None] < torch.randint(VIDEO_TOKENS // 2, VIDEO_TOKENS + 1, (k, 1), generator=g)
    tokens = torch.randint(1000, VOCAB, (k, TEXT_TOKENS), generator=g)
    text_mask = torch.arange(TEXT_TOKENS)[None] < torch.randint(8, TEXT_TOKENS + 1, (k, 1), generator=g)
    weights = torch.rand(k, TEXT_TOKENS, generator=g) * text_mask * (torch.rand(k, TEXT_TOKENS, generator=g) < 0.35)
    weights[:, 0] = 0
    weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-9)
    return [t.to(device) for t in (video, video_mask, tokens, text_mask, weights)]


def build(bert, video_layers, features, device):
    cfg = ModelConfig(hidden_size=768, num_heads=12, video_layers=video_layers, fusion_layers=2, ffn_multiplier=4,
                      dropout=0.1, norm_first=False, text_model=bert, text_mode="finetune", text_top_layers=0)
    torch.manual_seed(0)
    return TacoModel(cfg, FEATURE_DIMS[features], VIDEO_TOKENS, TEXT_TOKENS).to(device)


def training(model, args, device, ceiling, k, features, title):
    loss_fn = losses.TacoLoss(LossConfig(k_prime=8))
    optimizer = FusedAdam(model.parameters(), lr=1e-4, weight_decay=1e-5)
    batches = [random_inputs(k, device, FEATURE_DIMS[features], seed) for seed in range(4)]  # no cache-resident reuse

    def step(i):
        video, video_mask, tokens, text_mask, weights = batches[i % len(batches)]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            x = model.encode_video(video, video_mask)
            y = model.encode_text(tokens, text_mask)
            loss = loss_fn(model, x.float(), video_mask, y.float(), text_mask, weights)["loss"]
        optimizer.zero_grad()
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
    print(f"\n## {title}: K={k}, K'=8, {features}, BERT-base finetuned, d=768, "
          f"{model.cfg.video_layers} video / 2 fusion layers, bf16 autocast, fused Adam")
    print(f"last loss {float(loss.detach()):.4f}; {per_step * 1000:.1f} ms/step (median of {args.rounds} rounds of "
          f"{args.steps}; spread {min(rounds) * 1000:.1f}-{max(rounds) * 1000:.1f} ms)")
    print(f"| steps/s | GFLOP/step | achieved TFLOP/s | of measured bf16 peak | peak memory (GiB) |")
    print(f"|---:|---:|---:|---:|---:|")
    print(f"| {1 / per_step:.2f} | {flops / 1e9:.0f} | {flops / per_step / 1e12:.1f} | "
          f"{100 * flops / per_step / 1e12 / ceiling:.1f} % | {peak:.2f} |")


def evaluation(model, args, device, ceiling):
    model.eval()
    video, video_mask, tokens, text_mask, weights = random_inputs(args.n, device, FEATURE_DIMS["r152+s3d_hm"], seed=7)
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


def extraction(device, batches=5):
    """Backbone throughput of each feature type at its default batch, on random uint8 frames."""
    print("\n## Feature extraction backbones (bf16 autocast, random frames, decoding excluded)")
    print("| feature type | input per row | rows/s | video seconds/s | peak memory (GiB) |\n|---|---|---:|---:|---:|")
    for name, spec in EXTRACTORS.items():
        torch.manual_seed(0)
        net = spec.build_model().eval().to(device)
        side = spec.crop or spec.shorter_side
        shape = (spec.batch_size, spec.frames_per_row, side, side * (1 if spec.crop else 16) // (1 if spec.crop else 9), 3)
        frames = torch.randint(0, 256, shape, dtype=torch.uint8, device=device)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            net.features(_model_input(frames, spec))
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            for _ in range(batches):
                net.features(_model_input(frames, spec))
            torch.cuda.synchronize()
        rows = spec.batch_size * batches / (time.perf_counter() - start)
        print(f"| {name} | {spec.frames_per_row} x {shape[2]}x{shape[3]} | {rows:.0f} | {rows / spec.rows_per_second:.0f} | "
              f"{torch.cuda.max_memory_allocated() / 2 ** 30:.2f} |")
        del net


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
        bert = bert_base_folder(folder)
        model = build(bert, 1, "r152+s3d_hm", device)
        pretraining = build(bert, 4, "s3d_hm", device)
    print(f"ablation model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
    training(model, args, device, ceiling, args.k, "r152+s3d_hm", "Training step (Tables 2-7, 11-14)")
    evaluation(model, args, device, ceiling)
    del model
    training(pretraining, args, device, ceiling, 64, "s3d_hm", "Pretraining step (HowTo100M, Table 8)")
    del pretraining
    extraction(device)


if __name__ == "__main__":
    main()
