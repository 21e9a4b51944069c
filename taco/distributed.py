"""Helpers for torchrun: rank/world queries, gathering a batch from all ranks, summing gradients.

Gathering keeps the gradient of every rank's part: the backward pass sums the incoming gradient
over ranks (one all_reduce) and hands each rank the slice of its own input. Each rank then computes
the loss terms of its own anchors against the global batch, the per-rank losses add up to the
single-process loss, and summing parameter gradients over ranks gives the single-process gradient.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rows = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows
        return grad[start:start + ctx.rows]


def _pad_dim1(tensor: torch.Tensor, length: int) -> torch.Tensor:
    missing = length - tensor.shape[1]
    if missing == 0:
        return tensor
    pad = [0, 0] * (tensor.dim() - 2) + [0, missing]
    return F.pad(tensor, pad)


def gather_batch(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Concatenate each (K, L, ...) tensor over ranks (rank order), padding dim 1 to the longest.

    Every rank must hold the same K. Float tensors keep their gradient (see module docstring);
    boolean masks are gathered as data. Without torchrun this returns the inputs unchanged.
    """
    if not is_distributed():
        return tensors
    lengths = torch.tensor([t.shape[1] if t.dim() > 1 else 0 for t in tensors], device=tensors[0].device)
    dist.all_reduce(lengths, op=dist.ReduceOp.MAX)
    gathered = []
    for tensor, length in zip(tensors, lengths.tolist()):
        if tensor.dim() > 1:
            tensor = _pad_dim1(tensor, length)
        if tensor.dtype == torch.bool:
            parts = [torch.empty_like(tensor, dtype=torch.uint8) for _ in range(world_size())]
            dist.all_gather(parts, tensor.to(torch.uint8).contiguous())
            gathered.append(torch.cat(parts).bool())
        else:
            gathered.append(_GatherWithGrad.apply(tensor))
    return tuple(gathered)


def sum_gradients(module: torch.nn.Module) -> None:
    """All-reduce (sum) every parameter gradient in one flat buffer."""
    if not is_distributed():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    if is_distributed():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value
