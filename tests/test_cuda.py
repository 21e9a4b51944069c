"""The GPU path: on a CUDA device the fast fusion (shared embeddings and keys/values, first token only)
gives the plain path's scores, losses and gradients, the device agrees with the CPU, and evaluation
under bf16 autocast returns float32 score matrices. Skipped without a CUDA device (CI has none); run
on a GPU machine with ``pytest tests/test_cuda.py``."""
import copy
import itertools
import json

import pytest
import torch

from taco.config import EvalConfig, LossConfig, ModelConfig
from taco.evaluate import EncodedSet, score_matrices
from taco.losses import TacoLoss
from taco.model.taco_model import TacoModel

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
TEXT_WIDTH = 24


@pytest.fixture
def text_model(tmp_path):
    """A local text model folder: frozen mode reads only its width from config.json."""
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": TEXT_WIDTH}))
    return str(tmp_path)


def inputs(n, seed=1):
    """Random padded video (n, 16, 10) and cached text (n, 12, TEXT_WIDTH) with masks and token weights."""
    g = torch.Generator().manual_seed(seed)
    video_mask = torch.arange(16)[None] < torch.randint(1, 17, (n, 1), generator=g)
    text_mask = torch.arange(12)[None] < torch.randint(1, 13, (n, 1), generator=g)
    video, text = torch.randn(n, 16, 10, generator=g), torch.randn(n, 12, TEXT_WIDTH, generator=g)
    weights = torch.rand(n, 12, generator=g) * text_mask
    return video, video_mask, text, text_mask, weights


def scores_loss_grads(model, device, n_eval=30, n_train=12):
    """All-pairs score matrices of ``n_eval`` items (eval mode) and one TACo loss with its gradients
    (train mode, cascade negatives) on ``device``."""
    model = model.to(device)
    video, video_mask, text, text_mask, weights = (t.to(device) for t in inputs(n_eval))
    model.eval()
    with torch.no_grad():
        encoded = EncodedSet(model.encode_text(text, text_mask), text_mask, weights,
                             model.encode_video(video, video_mask), video_mask)
        scores = score_matrices(model, encoded, LossConfig(), EvalConfig(fusion="full", fusion_batch_size=97))
    model.train()
    model.zero_grad()
    k = n_train
    x, y = model.encode_video(video[:k], video_mask[:k]), model.encode_text(text[:k], text_mask[:k])
    loss = TacoLoss(LossConfig(k_prime=4))(model, x, video_mask[:k], y, text_mask[:k], weights[:k])["loss"]
    loss.backward()
    grads = {name: p.grad.cpu() for name, p in model.named_parameters() if p.grad is not None}
    return {name: s.cpu() for name, s in scores.items()}, loss.detach().cpu(), grads


@pytest.mark.parametrize("fusion_layers,norm_first", list(itertools.product([1, 2], [False, True])))
def test_fast_fusion_on_cuda_equals_the_plain_path_and_the_cpu(text_model, fusion_layers, norm_first):
    cfg = ModelConfig(hidden_size=32, num_heads=4, video_layers=1, fusion_layers=fusion_layers, dropout=0.0,
                      text_model=text_model, text_top_layers=1, norm_first=norm_first)
    torch.manual_seed(0)
    fast = TacoModel(cfg, video_feature_dim=10, max_video_tokens=16, max_text_tokens=12)
    plain = copy.deepcopy(fast)
    plain.fusion.first_token_only = False
    cpu = copy.deepcopy(fast)
    results = [scores_loss_grads(m, d) for m, d in ((fast, "cuda"), (plain, "cuda"), (cpu, "cpu"))]
    fast_scores, fast_loss, fast_grads = results[0]
    assert fast_scores["fused"].std() > 0 and fast_loss > 0
    for scores, loss, grads in results[1:]:
        assert scores.keys() == fast_scores.keys()
        for name in scores:
            assert torch.allclose(scores[name], fast_scores[name], atol=1e-4), name
        assert torch.allclose(loss, fast_loss, atol=1e-4)
        assert grads.keys() == fast_grads.keys()
        for name, grad in grads.items():
            assert torch.allclose(grad, fast_grads[name], atol=1e-4, rtol=1e-3), name


def test_bf16_evaluation_on_cuda_returns_float32_scores_close_to_float32(text_model):
    cfg = ModelConfig(hidden_size=32, num_heads=4, video_layers=1, fusion_layers=2, dropout=0.0,
                      text_model=text_model, text_top_layers=1)
    torch.manual_seed(0)
    model = TacoModel(cfg, video_feature_dim=10, max_video_tokens=16, max_text_tokens=12).cuda().eval()
    video, video_mask, text, text_mask, weights = (t.cuda() for t in inputs(40))
    results = []
    for enabled in (False, True):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled):
            x, y = model.encode_video(video, video_mask), model.encode_text(text, text_mask)
            encoded = EncodedSet(y.float(), text_mask, weights, x.float(), video_mask)
            results.append(score_matrices(model, encoded, LossConfig(), EvalConfig(fusion="rerank", rerank_k=5)))
    plain, mixed = results
    assert all(matrix.dtype == torch.float32 for matrix in mixed.values())
    assert torch.allclose(mixed["fused"], plain["fused"], atol=0.1, rtol=0.05)
