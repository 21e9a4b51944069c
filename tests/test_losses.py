"""Losses (Eq. 3-6) and samplers against plain loops written independently here."""
import math

import pytest
import torch

from taco.config import LossConfig
from taco.losses import TacoLoss, cascade_negatives, random_negatives

F64 = torch.float64


def make_batch(k=6, m=5, n=4, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(k, m, d, generator=g, dtype=F64)
    text = torch.randn(k, n, d, generator=g, dtype=F64)
    video_mask = torch.ones(k, m, dtype=torch.bool)
    text_mask = torch.ones(k, n, dtype=torch.bool)
    for i in range(k):  # ragged lengths
        video_mask[i, 1 + i % m:] = False
        text_mask[i, 2 + i % (n - 1):] = False
    video = video * video_mask[..., None]
    weights = torch.rand(k, n, generator=g, dtype=F64) * text_mask * (torch.rand(k, n, generator=g) > 0.3)
    weights[:, 0] = 0  # [CLS] is never a token of interest
    weights[1] = 0     # a sentence without tokens of interest
    weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-12)
    return video.requires_grad_(), video_mask, text.requires_grad_(), text_mask, weights


class PairModel:
    """Stands in for the fusion module: a smooth, asymmetric function of one (text, video) pair."""

    def __init__(self, d, seed=1):
        self.w = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64)

    def pair_score(self, t, tm, v, vm):
        tv = (t * tm[:, None]).sum(0) / tm.sum()
        vv = (v * vm[:, None]).sum(0) / vm.sum()
        return torch.tanh(tv @ self.w @ vv) + 0.1 * (tv * vv).sum()

    def fuse_pairs(self, text, text_mask, video, video_mask, text_index, video_index, batch_size=None,
                   recompute=False):
        return torch.stack([self.pair_score(text[i], text_mask[i], video[j], video_mask[j])
                            for i, j in zip(text_index.tolist(), video_index.tolist())])


# ---- plain-loop references -------------------------------------------------------------

def loop_mean(v, vm):
    rows = [v[t] for t in range(v.shape[0]) if vm[t]]
    return sum(rows) / len(rows)


def loop_global(video, vm, text, i, j):
    return torch.dot(text[i, 0], loop_mean(video[j], vm[j]))


def loop_token(video, vm, text, i, p, j):
    return max(torch.dot(text[i, p], video[j, t]) for t in range(video.shape[1]) if vm[j, t])


def loop_l1(video, vm, text, tau):
    k = video.shape[0]
    total = 0
    for i in range(k):
        num = torch.exp(loop_global(video, vm, text, i, i) / tau)
        den = sum(torch.exp(loop_global(video, vm, text, i, j) / tau) for j in range(k))
        total = total - torch.log(num / den)
    return total / k


def loop_l2(video, vm, text, weights, tau):
    k, n = weights.shape
    total = 0
    for i in range(k):
        for p in range(n):
            if weights[i, p] > 0:
                num = torch.exp(loop_token(video, vm, text, i, p, i) / tau)
                den = sum(torch.exp(loop_token(video, vm, text, i, p, j) / tau) for j in range(k))
                total = total - weights[i, p] * torch.log(num / den)
    return total / k


def loop_combined(video, vm, text, weights, i, j, with_tokens):
    score = loop_global(video, vm, text, i, j)
    if with_tokens:
        score = score + sum(loop_token(video, vm, text, i, p, j) for p in range(text.shape[1]) if weights[i, p] > 0)
    return float(score.detach())


def loop_topk_excluding(values, anchor, k):
    order = sorted((j for j in range(len(values)) if j != anchor), key=lambda j: -values[j])
    return order[:k]


def loop_l3_cascade(model, video, vm, text, tm, weights, k, with_tokens):
    n_items = video.shape[0]
    combined = [[loop_combined(video, vm, text, weights, i, j, with_tokens) for j in range(n_items)]
                for i in range(n_items)]
    total = 0
    for a in range(n_items):
        pos = model.pair_score(text[a], tm[a], video[a], vm[a])
        negs_v = loop_topk_excluding(combined[a], a, k)
        negs_t = loop_topk_excluding([combined[i][a] for i in range(n_items)], a, k)
        for candidates in ([model.pair_score(text[a], tm[a], video[j], vm[j]) for j in negs_v],
                           [model.pair_score(text[i], tm[i], video[a], vm[a]) for i in negs_t]):
            den = torch.exp(pos) + sum(torch.exp(c) for c in candidates)
            total = total - torch.log(torch.exp(pos) / den)
    return total / (2 * n_items)


def loop_l3_full(model, video, vm, text, tm):
    n_items = video.shape[0]
    f = [[model.pair_score(text[i], tm[i], video[j], vm[j]) for j in range(n_items)] for i in range(n_items)]
    total = 0
    for a in range(n_items):
        total = total - torch.log(torch.exp(f[a][a]) / sum(torch.exp(f[a][j]) for j in range(n_items)))
        total = total - torch.log(torch.exp(f[a][a]) / sum(torch.exp(f[i][a]) for i in range(n_items)))
    return total / (2 * n_items)


def grads(value, *inputs):
    return torch.autograd.grad(value, inputs, retain_graph=True, allow_unused=True)


def assert_same_value_and_grads(ours, reference, inputs):
    assert torch.allclose(ours, reference, atol=1e-9), (ours, reference)
    for g_ours, g_ref in zip(grads(ours, *inputs), grads(reference, *inputs)):
        g_ours = torch.zeros_like(inputs[0]) if g_ours is None else g_ours
        g_ref = torch.zeros_like(g_ours) if g_ref is None else g_ref
        assert torch.allclose(g_ours, g_ref, atol=1e-9)


# ---- tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_l1_matches_loop_with_gradients(tau):
    video, vm, text, tm, w = make_batch()
    cfg = LossConfig(use_l1=True, use_l2=False, use_l3=False, tau1=tau)
    ours = TacoLoss(cfg)(None, video, vm, text, tm, w)
    assert_same_value_and_grads(ours["l1"], loop_l1(video, vm, text, tau), (video, text))
    assert torch.equal(ours["loss"], ours["l1"])


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_l2_matches_loop_with_gradients(tau):
    video, vm, text, tm, w = make_batch(seed=3)
    cfg = LossConfig(use_l1=False, use_l2=True, use_l3=False, tau2=tau, lambda_t=0.5)
    ours = TacoLoss(cfg)(None, video, vm, text, tm, w)
    reference = loop_l2(video, vm, text, w, tau)
    assert_same_value_and_grads(ours["l2"], reference, (video, text))
    assert torch.allclose(ours["loss"], 0.5 * reference)


def test_sentence_without_tokens_of_interest_adds_exactly_zero():
    video, vm, text, tm, w = make_batch(seed=4)
    w = torch.zeros_like(w)
    out = TacoLoss(LossConfig(use_l1=False, use_l2=True, use_l3=False))(None, video, vm, text, tm, w)
    assert out["l2"].item() == 0.0
    (g_video,) = torch.autograd.grad(out["loss"], video)
    assert torch.equal(g_video, torch.zeros_like(video))


@pytest.mark.parametrize("use_l2", [True, False])
def test_cascade_l3_matches_loop(use_l2):
    video, vm, text, tm, w = make_batch(k=7, seed=5)
    model = PairModel(3)
    cfg = LossConfig(use_l1=False, use_l2=use_l2, use_l3=True, negatives="cascade", k_prime=3)
    ours = TacoLoss(cfg)(model, video, vm, text, tm, w)
    reference = loop_l3_cascade(model, video, vm, text, tm, w, 3, with_tokens=use_l2)
    assert_same_value_and_grads(ours["l3"], reference, (video, text))


def test_full_l3_matches_loop():
    video, vm, text, tm, w = make_batch(k=5, seed=6)
    model = PairModel(3)
    cfg = LossConfig(use_l1=False, use_l2=False, use_l3=True, negatives="full")
    ours = TacoLoss(cfg)(model, video, vm, text, tm, w)
    assert_same_value_and_grads(ours["l3"], loop_l3_full(model, video, vm, text, tm), (video, text))


def test_k_prime_larger_than_batch_uses_every_negative():
    video, vm, text, tm, w = make_batch(k=4, seed=7)
    model = PairModel(3)
    cascade = TacoLoss(LossConfig(use_l1=False, use_l2=False, negatives="cascade", k_prime=50))
    full = TacoLoss(LossConfig(use_l1=False, use_l2=False, negatives="full"))
    assert torch.allclose(cascade(model, video, vm, text, tm, w)["l3"], full(model, video, vm, text, tm, w)["l3"])


def test_cascade_sampler_returns_exact_top_k():
    g = torch.Generator().manual_seed(8)
    scores = torch.randn(9, 9, generator=g)
    for_text, for_video = cascade_negatives(scores, 4)
    for a in range(9):
        assert for_text[a].tolist() == loop_topk_excluding(scores[a].tolist(), a, 4)
        assert for_video[a].tolist() == loop_topk_excluding(scores[:, a].tolist(), a, 4)


def test_random_negatives_are_distinct_and_exclude_the_anchor():
    g = torch.Generator().manual_seed(9)
    for_text, for_video = random_negatives(10, 6, g)
    for table in (for_text, for_video):
        for a, row in enumerate(table.tolist()):
            assert a not in row and len(set(row)) == 6
    # Different draws differ; the same seed repeats.
    again = random_negatives(10, 6, torch.Generator().manual_seed(9))
    assert torch.equal(again[0], for_text)


def test_padding_never_changes_a_loss():
    video, vm, text, tm, w = make_batch(k=6, seed=10)
    model = PairModel(3)
    cfg = LossConfig(negatives="cascade", k_prime=3)
    base = TacoLoss(cfg)(model, video, vm, text, tm, w)
    pad_v = torch.cat([video, 100 * torch.randn(6, 3, 3, dtype=F64)], 1)
    pad_t = torch.cat([text, 100 * torch.randn(6, 2, 3, dtype=F64)], 1)
    padded = TacoLoss(cfg)(model, pad_v, torch.cat([vm, torch.zeros(6, 3, dtype=torch.bool)], 1),
                           pad_t, torch.cat([tm, torch.zeros(6, 2, dtype=torch.bool)], 1),
                           torch.cat([w, torch.zeros(6, 2, dtype=F64)], 1))
    for key in ("l1", "l2", "l3", "loss"):
        assert math.isclose(base[key].item(), padded[key].item(), rel_tol=1e-12, abs_tol=1e-12), key
