"""Model: padding is invisible, both text modes, the text cache is keyed by model and caption, our
Transformer layers equal torch's, and the fusion's first-token path equals the full sequence."""
import copy
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from taco.config import LossConfig, ModelConfig
from taco.losses import TacoLoss
from taco.model.layers import SelfAttentionLayer, SelfAttentionStack
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


def test_text_cache_batches_by_length_and_keeps_each_captions_row(tmp_path):
    """Captions are encoded in batches of one length, unpadded; every row equals the padded forward
    pass of the frozen encoder, whatever the order they came in."""
    from transformers import AutoModel
    from taco.model.text_encoder import resolve_text_model

    tok = load_tokenizer("minilm")
    captions = ["a man is riding a bike down a long and winding mountain road at dusk", "stir",
                "add the chopped onions to the pan", "cut", "a woman sings on a stage in front of a crowd"]
    enc = tok(captions, padding="max_length", max_length=16, truncation=True, return_tensors="np")
    cache = TextFeatureCache(tmp_path, "minilm", 16)
    assert cache.add(captions, enc["input_ids"], enc["attention_mask"], batch_size=2, progress=False) == 5
    bert = AutoModel.from_pretrained(resolve_text_model("minilm")).eval()
    with torch.no_grad():
        direct = bert(input_ids=torch.as_tensor(enc["input_ids"]),
                      attention_mask=torch.as_tensor(enc["attention_mask"])).last_hidden_state
    direct = (direct * torch.as_tensor(enc["attention_mask"])[..., None]).numpy()
    cached = cache.get(captions, 16)
    assert np.allclose(cached, direct, atol=2e-2)  # float16 storage
    assert np.all(cached[enc["attention_mask"] == 0] == 0)


def test_cached_features_are_the_same_bytes_whatever_was_cached_before(tmp_path):
    """A caption's cached features do not depend on the captions encoded with it: two caches filled in
    different orders and groupings (as parallel jobs fill a shared cache) hold identical bytes."""
    tok = load_tokenizer("minilm")
    captions = ["add the chopped onions to the pan", "stir", "a man is riding a bike down a long road",
                "cut the bread", "slice an onion into thin rings", "a woman sings on a stage"]
    enc = tok(captions, padding="max_length", max_length=16, truncation=True, return_tensors="np")
    together = TextFeatureCache(tmp_path / "together", "minilm", 16)
    together.add(captions, enc["input_ids"], enc["attention_mask"], batch_size=4, progress=False)
    piecewise = TextFeatureCache(tmp_path / "piecewise", "minilm", 16)
    for part in ([4, 1], [2, 0, 5, 3]):
        piecewise.add([captions[i] for i in part], enc["input_ids"][part], enc["attention_mask"][part],
                      batch_size=3, progress=False)
    assert together.get(captions, 16).tobytes() == piecewise.get(captions, 16).tobytes()


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


def padded_masks(lengths: list[int], length: int) -> torch.Tensor:
    return torch.arange(length)[None] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_equals_torch_transformer_encoder_layer(norm_first):
    torch.manual_seed(0)
    ours = SelfAttentionLayer(8, 2, 4, dropout=0.0, norm_first=norm_first)
    reference = nn.TransformerEncoderLayer(8, 2, 32, 0.0, activation="gelu", batch_first=True, norm_first=norm_first)
    reference.load_state_dict(ours.state_dict())  # same parameter names and shapes
    tokens, mask = torch.randn(3, 7, 8), padded_masks([7, 4, 2], 7)
    expected = reference(tokens, src_key_padding_mask=~mask)
    assert torch.allclose(ours(tokens, mask)[mask], expected[mask], atol=1e-5)
    assert torch.allclose(ours(tokens, mask, queries=1), expected[:, :1], atol=1e-5)


class TorchStack(nn.Module):
    """The naive reference of a SelfAttentionStack: torch's nn.TransformerEncoder over every token
    (with its final LayerNorm when pre-norm), padding zeroed, token 0 read off the full output."""

    def __init__(self, stack: SelfAttentionStack, hidden: int, num_heads: int, norm_first: bool):
        super().__init__()
        layers = len(stack.encoder.layers)
        layer = nn.TransformerEncoderLayer(hidden, num_heads, 4 * hidden, 0.0, activation="gelu",
                                           batch_first=True, norm_first=norm_first)
        norm = nn.LayerNorm(hidden) if norm_first and layers else None
        self.encoder = nn.TransformerEncoder(layer, layers, norm=norm, enable_nested_tensor=False)
        self.encoder.load_state_dict(stack.encoder.state_dict())

    def forward(self, tokens, mask, first_token_only=False):
        out = self.encoder(tokens, src_key_padding_mask=~mask) * mask[..., None]
        return out[:, 0] if first_token_only else out


def naive_copy(model: TacoModel) -> TacoModel:
    naive = copy.deepcopy(model)
    cfg = model.cfg
    for owner in (naive.video_encoder, naive.text_encoder, naive.fusion):
        owner.layers = TorchStack(owner.layers, cfg.hidden_size, cfg.num_heads, cfg.norm_first)
    naive.fusion.first_token_only = False  # every pair's whole sequence through torch's layers
    return naive


@pytest.mark.parametrize("norm_first,fusion_layers", list(itertools.product([False, True], [1, 2])))
def test_first_token_fusion_equals_the_full_sequence_in_scores_losses_and_gradients(norm_first, fusion_layers):
    """The fast path (last fusion layer computes [CLS] only), the plain path (last layer over every
    token) and torch's nn.TransformerEncoder give the same Eq. 5 scores, TACo losses and gradients,
    with padded text and video."""
    cfg = ModelConfig(hidden_size=16, num_heads=2, video_layers=1, fusion_layers=fusion_layers, dropout=0.0,
                      text_top_layers=1, norm_first=norm_first)
    torch.manual_seed(0)
    fast = TacoModel(cfg, video_feature_dim=10, max_video_tokens=9, max_text_tokens=7).train()
    assert fast.fusion.first_token_only
    plain = copy.deepcopy(fast)
    plain.fusion.first_token_only = False
    naive = naive_copy(fast)
    g = torch.Generator().manual_seed(1)
    k = 6
    video, video_mask = torch.randn(k, 9, 10, generator=g), padded_masks([9, 3, 5, 1, 9, 6], 9)
    text, text_mask = torch.randn(k, 7, 384, generator=g), padded_masks([7, 2, 4, 7, 3, 5], 7)
    video[~video_mask] = 50.0  # padding must not matter
    text[~text_mask] = 50.0
    weights = torch.rand(k, 7, generator=g) * text_mask
    loss_fn = TacoLoss(LossConfig(k_prime=3))
    results = []
    for model in (fast, plain, naive):
        model.zero_grad()
        x, y = model.encode_video(video, video_mask), model.encode_text(text, text_mask)
        pairs = torch.arange(k).repeat_interleave(k), torch.arange(k).repeat(k)
        scores = model.fuse_pairs(y, text_mask, x, video_mask, *pairs)
        terms = loss_fn(model, x, video_mask, y, text_mask, weights)
        terms["loss"].backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results.append((scores.detach(), {n: v.detach() for n, v in terms.items()}, grads))
    (fast_scores, fast_terms, fast_grads) = results[0]
    assert fast_terms["l3"] > 0 and fast_scores.std() > 0
    for scores, terms, grads in results[1:]:
        assert torch.allclose(scores, fast_scores, atol=1e-5)
        assert all(torch.allclose(terms[n], fast_terms[n], atol=1e-5) for n in fast_terms)
        assert grads.keys() == fast_grads.keys()
        for name, grad in grads.items():
            assert torch.allclose(grad, fast_grads[name], atol=1e-5), name
    # every fusion parameter that the score reads gets a gradient on the fast path too
    assert all(f"fusion.{n}" in fast_grads for n, _ in fast.fusion.named_parameters())


@pytest.mark.parametrize("fusion", ["rerank", "full"])
def test_scores_under_bf16_autocast_are_float32_and_rank_like_float32(fusion):
    """Evaluation under bf16 autocast (the GPU path) gives float32 score matrices (bf16 ones tie ranks)
    whose fused scores match the float32 run up to bf16 rounding."""
    from taco.config import EvalConfig
    from taco.evaluate import EncodedSet, score_matrices

    model = tiny()
    g = torch.Generator().manual_seed(3)
    n = 12
    video, video_mask = torch.randn(n, 16, 10, generator=g), padded_masks([16, 4, 9] * 4, 16)
    text, text_mask = torch.randn(n, 12, 384, generator=g), padded_masks([12, 3, 7] * 4, 12)
    weights = torch.rand(n, 12, generator=g) * text_mask
    cfg = EvalConfig(fusion=fusion, rerank_k=4)
    results = []
    for enabled in (False, True):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            x, y = model.encode_video(video, video_mask), model.encode_text(text, text_mask)
            encoded = EncodedSet(y.float(), text_mask, weights, x.float(), video_mask)
            results.append(score_matrices(model, encoded, LossConfig(), cfg))
    plain, mixed = results
    assert all(matrix.dtype == torch.float32 for matrix in mixed.values())
    assert torch.allclose(mixed["fused"], plain["fused"], atol=0.1, rtol=0.05)


def test_fusion_scores_in_ordered_passes_equal_each_pair_alone():
    """``fusion_scores`` reorders the pairs by (text length, video) into passes that share embeddings;
    every score must still land on its own pair: each equals the pair fused alone (plain path)."""
    from taco.evaluate import EncodedSet, fusion_scores

    model = tiny()
    plain = copy.deepcopy(model)
    plain.fusion.first_token_only = False
    g = torch.Generator().manual_seed(4)
    n_text, n_video = 7, 5
    video_mask = padded_masks([16, 4, 9, 1, 12], 16)
    text_mask = padded_masks([12, 3, 7, 3, 1, 12, 5], 12)
    with torch.no_grad():
        x = model.encode_video(torch.randn(n_video, 16, 10, generator=g), video_mask)
        y = model.encode_text(torch.randn(n_text, 12, 384, generator=g), text_mask)
    encoded = EncodedSet(y, text_mask, torch.zeros(n_text, 12), x, video_mask)
    pairs = torch.randint(0, n_text, (40,), generator=g), torch.randint(0, n_video, (40,), generator=g)
    with torch.no_grad():
        scores = fusion_scores(model, encoded, *pairs, batch_size=6)
        alone = torch.stack([plain.fuse_pairs(y, text_mask, x, video_mask, t[None], v[None])[0]
                             for t, v in zip(*pairs)])
    assert torch.allclose(scores, alone, atol=1e-5)


def test_fusion_dropout_is_drawn_per_pair_in_training():
    """With embedding dropout in training, a pair listed twice is two draws: the shared embeddings of
    the no-dropout path would make the two scores equal."""
    from taco.model.layers import SelfAttention

    model = tiny(dropout=0.5).train()
    for module in model.fusion.layers.modules():  # dropout in the fusion's embedding only
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(module, SelfAttention):
            module.dropout = 0.0
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 6, 32, generator=g)
    y = torch.randn(2, 5, 32, generator=g)
    ones_t, ones_v = torch.ones(2, 5, dtype=torch.bool), torch.ones(2, 6, dtype=torch.bool)
    twice = torch.zeros(2, dtype=torch.long)
    scores = model.fuse_pairs(y, ones_t, x, ones_v, twice, twice)
    assert abs(scores[0] - scores[1]) > 1e-3
    model.eval()
    scores = model.fuse_pairs(y, ones_t, x, ones_v, twice, twice)
    assert abs(scores[0] - scores[1]) < 1e-6
