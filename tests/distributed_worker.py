"""Run by tests/test_distributed.py under torchrun: the loss and gradients of one global batch.

With WORLD_SIZE=1 (no torchrun) it computes them in one process. Each process writes its loss
terms and its parameter gradients, summed over ranks, to OUT/rank<r>.pt.
"""
import os
import sys

import torch
import torch.distributed as dist

from taco import distributed
from taco.config import LossConfig, ModelConfig
from taco.losses import TacoLoss
from taco.model.taco_model import TacoModel


def global_batch(k=8, m=6, n=5, feature_dim=12, text_dim=384):
    g = torch.Generator().manual_seed(0)
    features = torch.randn(k, m, feature_dim, generator=g)
    text = torch.randn(k, n, text_dim, generator=g)
    video_mask = torch.arange(m)[None] < torch.tensor([m, 3, 4, m, 2, 5, m, 1])[:, None]
    text_mask = torch.arange(n)[None] < torch.tensor([n, 3, 4, 2, n, 3, 4, 5])[:, None]
    weights = torch.rand(k, n, generator=g) * text_mask
    weights[:, 0] = 0
    weights = weights / weights.sum(1, keepdim=True)
    return features, video_mask, text, text_mask, weights


def main(out_dir: str, negatives: str) -> None:
    torch.set_num_threads(1)
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = TacoModel(ModelConfig(hidden_size=16, num_heads=2, dropout=0.0, video_layers=1, fusion_layers=1),
                      video_feature_dim=12, max_video_tokens=8, max_text_tokens=8)
    batch = global_batch()
    world, rank = distributed.world_size(), distributed.rank()
    local = batch[0].shape[0] // world
    part = [t[rank * local:(rank + 1) * local] for t in batch]
    # Each rank trims its padding to its own longest item, as a collate function would.
    video_len = int(part[1].sum(1).max())
    text_len = int(part[3].sum(1).max())
    features, video_mask = part[0][:, :video_len], part[1][:, :video_len]
    text_in, text_mask, weights = part[2][:, :text_len], part[3][:, :text_len], part[4][:, :text_len]
    loss_fn = TacoLoss(LossConfig(negatives=negatives, k_prime=3))
    video = model.encode_video(features, video_mask)
    text = model.encode_text(text_in, text_mask)
    terms = loss_fn(model, video, video_mask, text, text_mask, weights,
                    generator=torch.Generator().manual_seed(123))
    terms["loss"].backward()
    distributed.sum_gradients(model)
    summed = {k: distributed.all_reduce_sum(v.detach()) for k, v in terms.items()}
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    torch.save({"terms": summed, "grads": grads}, os.path.join(out_dir, f"rank{rank}.pt"))
    if distributed.is_distributed():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
