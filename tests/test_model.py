"""Model: padding is invisible, both text modes, the text cache is keyed by model and caption."""
import numpy as np
import pytest
import torch

from taco.config import ModelConfig
from taco.model.taco_model import TacoModel
from taco.model.text_cache import TextFeatureCache
from taco.model.text_encoder import load_tokenizer


def tiny(mode="frozen", **kw):
    cfg = ModelConfig(hidden_size=32, num_heads=2, video_layers=2, fusion_layers=1, text_mode=mode, **kw)
    torch.manual_seed(0)
    return TacoModel(cfg, video_feature_dim=10, max_video_tokens=16, max_text_tokens=12).eval()


def test_padding_does_not_change_real_token_outputs_or_fusion_scores():
    model = tiny()
    g = torch.Generator().manual_seed(0)
    feats, text = torch.randn(3, 5, 10, generator=g), torch.randn(3, 4, 384, generator=g)
    vmask, tmask = torch.ones(3, 5, dtype=torch.bool), torch.ones(3, 4, dtype=torch.bool)
    x, y = model.encode_video(feats, vmask), model.encode_text(text, tmask)
    pad_feats = torch.cat([feats, 50 * torch.randn(3, 4, 10, generator=g)], 1)
    pad_text = torch.cat([text, 50 * torch.randn(3, 3, 384, generator=g)], 1)
    pvmask = torch.cat([vmask, torch.zeros(3, 4, dtype=torch.bool)], 1)
    ptmask = torch.cat([tmask, torch.zeros(3, 3, dtype=torch.bool)], 1)
    px, py = model.encode_video(pad_feats, pvmask), model.encode_text(pad_text, ptmask)
    assert torch.allclose(px[:, :5], x, atol=1e-5) and torch.equal(px[:, 5:], torch.zeros_like(px[:, 5:]))
    assert torch.allclose(py[:, :4], y, atol=1e-5)
    idx = torch.arange(3)
    plain = model.fuse_pairs(y, tmask, x, vmask, idx, idx.flip(0))
    padded = model.fuse_pairs(py, ptmask, px, pvmask, idx, idx.flip(0))
    assert torch.allclose(plain, padded, atol=1e-5)


def test_fusion_in_small_batches_equals_one_batch():
    model = tiny()
    x = model.encode_video(torch.randn(4, 6, 10), torch.ones(4, 6, dtype=torch.bool))
    y = model.encode_text(torch.randn(4, 5, 384), torch.ones(4, 5, dtype=torch.bool))
    ti, vi = torch.arange(4).repeat_interleave(4), torch.arange(4).repeat(4)
    ones_t, ones_v = torch.ones(4, 5, dtype=torch.bool), torch.ones(4, 6, dtype=torch.bool)
    assert torch.allclose(model.fuse_pairs(y, ones_t, x, ones_v, ti, vi),
                          model.fuse_pairs(y, ones_t, x, ones_v, ti, vi, batch_size=3), atol=1e-6)


def test_video_without_feature_rows_is_an_error_naming_the_item():
    model = tiny()
    mask = torch.ones(2, 3, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"items \[1\] have no feature rows"):
        model.encode_video(torch.randn(2, 3, 10), mask)


def test_finetune_mode_trains_the_pretrained_encoder_and_projects_to_d():
    model = tiny("finetune").train()
    tok = load_tokenizer("minilm")
    enc = tok(["add the chopped tomatoes to the pan", "stir"], padding=True, return_tensors="pt")
    out = model.encode_text(enc["input_ids"], enc["attention_mask"].bool())
    assert out.shape == (2, enc["input_ids"].shape[1], 32)
    out.sum().backward()
    bert_grads = [p.grad for p in model.text_encoder.bert.parameters() if p.grad is not None]
    assert bert_grads and any(g.abs().sum() > 0 for g in bert_grads)


def test_text_cache_is_keyed_by_caption_and_token_limit(tmp_path):
    tok = load_tokenizer("minilm")
    captions = ["slice an onion into thin rings", "a man is riding a bike"]
    enc = tok(captions, padding="max_length", max_length=12, truncation=True, return_tensors="np")
    cache = TextFeatureCache(tmp_path, "minilm", 12)
    assert cache.add(captions, enc["input_ids"], enc["attention_mask"], progress=False) == 2
    assert cache.add(captions, enc["input_ids"], enc["attention_mask"], progress=False) == 0
    first = cache.get(captions, 12)
    # A fresh cache object reads the same rows back from disk; order follows the request.
    reopened = TextFeatureCache(tmp_path, "minilm", 12)
    assert np.array_equal(reopened.get(captions[::-1], 12), first[::-1])
    assert not np.allclose(first[0], first[1])
    # Another token limit is another cache folder: nothing is served from the old one.
    assert TextFeatureCache(tmp_path, "minilm", 8).folder != cache.folder
    with pytest.raises(KeyError, match="not in the text cache"):
        TextFeatureCache(tmp_path, "minilm", 8).get(captions, 8)
    # Cached features equal a direct forward pass of the frozen encoder.
    from transformers import AutoModel
    from taco.model.text_encoder import resolve_text_model
    bert = AutoModel.from_pretrained(resolve_text_model("minilm")).eval()
    with torch.no_grad():
        direct = bert(input_ids=torch.as_tensor(enc["input_ids"]),
                      attention_mask=torch.as_tensor(enc["attention_mask"])).last_hidden_state
    direct = direct * torch.as_tensor(enc["attention_mask"])[..., None]
    assert np.allclose(first, direct.numpy(), atol=2e-2)  # float16 storage


def test_recomputed_fusion_gives_the_same_scores_and_gradients():
    model = tiny()
    model.fusion.dropout.p = 0.0
    x = model.encode_video(torch.randn(3, 6, 10), torch.ones(3, 6, dtype=torch.bool))
    y = model.encode_text(torch.randn(3, 5, 384), torch.ones(3, 5, dtype=torch.bool))
    ti, vi = torch.arange(3).repeat_interleave(3), torch.arange(3).repeat(3)
    masks = (torch.ones(3, 5, dtype=torch.bool), torch.ones(3, 6, dtype=torch.bool))
    results = []
    for recompute in (False, True):
        model.zero_grad()
        scores = model.fuse_pairs(y, masks[0], x, masks[1], ti, vi, batch_size=4, recompute=recompute)
        scores.square().sum().backward(retain_graph=True)
        results.append((scores.detach(), model.fusion.score.weight.grad.clone()))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-6)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-6)
