"""Video encoding module f_theta_v (paper 3.1): linear projection to d, positions, N self-attention layers."""
from __future__ import annotations

import torch
from torch import nn

from taco.model.layers import SelfAttentionStack, TokenEmbedding


class VideoEncoder(nn.Module):
    def __init__(self, feature_dim: int, hidden: int, num_layers: int, num_heads: int,
                 ffn_multiplier: int, dropout: float, max_tokens: int,
                 norm_first: bool = False):
        super().__init__()
        self.feature_dim = feature_dim
        self.embed = TokenEmbedding(feature_dim, hidden, max_tokens, dropout)
        self.layers = SelfAttentionStack(hidden, num_layers, num_heads, ffn_multiplier, dropout, norm_first)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(K, m, D) features, (K, m) mask (True = real) -> (K, m, d) tokens x, padding zeroed."""
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"video features have width {features.shape[-1]} but the model expects "
                             f"{self.feature_dim}: check data.features against the checkpoint")
        empty = ~mask.any(dim=1)
        if bool(empty.any()):
            raise ValueError(f"video batch items {empty.nonzero().flatten().tolist()} have no feature rows")
        return self.layers(self.embed(features), mask)
