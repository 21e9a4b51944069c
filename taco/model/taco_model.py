"""The TACo video-text alignment model (paper 3.1): video encoder, text encoder, fusion."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from taco.config import ModelConfig
from taco.model.fusion import FusionModule
from taco.model.text_encoder import TextEncoder
from taco.model.video_encoder import VideoEncoder


class TacoModel(nn.Module):
    def __init__(self, cfg: ModelConfig, video_feature_dim: int, max_video_tokens: int, max_text_tokens: int):
        super().__init__()
        self.cfg = cfg
        common = dict(num_heads=cfg.num_heads, ffn_multiplier=cfg.ffn_multiplier, dropout=cfg.dropout,
                      norm_first=cfg.norm_first)
        self.video_encoder = VideoEncoder(video_feature_dim, cfg.hidden_size, cfg.video_layers,
                                          max_tokens=max_video_tokens, **common)
        self.text_encoder = TextEncoder(cfg.text_model, cfg.text_mode, cfg.hidden_size, cfg.text_top_layers,
                                        max_tokens=max_text_tokens, **common)
        self.fusion = FusionModule(cfg.hidden_size, cfg.fusion_layers, max_positions=max_video_tokens + max_text_tokens,
                                   **common)

    def encode_video(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.video_encoder(features, mask)

    def encode_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(tokens, mask)

    def fuse_pairs(self, text: torch.Tensor, text_mask: torch.Tensor, video: torch.Tensor,
                   video_mask: torch.Tensor, text_index: torch.Tensor, video_index: torch.Tensor,
                   batch_size: int | None = None, recompute: bool = False) -> torch.Tensor:
        """Later-stage scores of the pairs (text_index[p], video_index[p]), ``batch_size`` pairs per pass.

        With ``recompute`` each pass keeps no activations for backward and is recomputed then
        (activation checkpointing), so memory stays bounded by one pass even over all K x K pairs.
        """
        total = text_index.shape[0]
        step = batch_size or max(total, 1)
        scores = []
        for start in range(0, total, step):
            t = text_index[start:start + step]
            v = video_index[start:start + step]
            args = (text, text_mask, video, video_mask, t, v)
            if recompute and torch.is_grad_enabled():
                scores.append(checkpoint(self.fusion, *args, use_reentrant=False))
            else:
                scores.append(self.fusion(*args))
        return torch.cat(scores) if scores else text.new_zeros(0)
