"""Self-attention stacks shared by the video encoder, the text top layers and the fusion module."""
from __future__ import annotations

import torch
from torch import nn


class SelfAttentionStack(nn.Module):
    """``num_layers`` post-norm Transformer layers (BERT style, GELU) over a padded batch.

    ``mask`` is True for real tokens; padded tokens are excluded from attention as keys and their
    outputs are zeroed, so padding can never leak into a pooled score.
    """

    def __init__(self, hidden: int, num_layers: int, num_heads: int, ffn_multiplier: int, dropout: float):
        super().__init__()
        self.num_layers = num_layers
        if num_layers > 0:
            layer = nn.TransformerEncoderLayer(
                hidden, num_heads, hidden * ffn_multiplier, dropout,
                activation="gelu", batch_first=True, norm_first=False,
            )
            self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.num_layers > 0:
            tokens = self.encoder(tokens, src_key_padding_mask=~mask)
        return tokens * mask.unsqueeze(-1).to(tokens.dtype)


EMBEDDING_INIT_STD = 0.02
"""BERT's initialisation of position and token-type embeddings; PyTorch's default N(0, 1) would swamp
the projected features (norm ~ sqrt(d) against ~ 0.3) and slow learning down."""


class TokenEmbedding(nn.Module):
    """Input projection + absolute position embedding + LayerNorm + dropout (paper 3.1)."""

    def __init__(self, input_dim: int, hidden: int, max_positions: int, dropout: float):
        super().__init__()
        self.input_dim = input_dim
        self.max_positions = max_positions
        self.project = nn.Linear(input_dim, hidden) if input_dim != hidden else nn.Identity()
        self.position = nn.Embedding(max_positions, hidden)
        nn.init.normal_(self.position.weight, std=EMBEDDING_INIT_STD)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        if length > self.max_positions:
            raise ValueError(f"sequence of {length} tokens exceeds the model's {self.max_positions} positions")
        positions = torch.arange(length, device=tokens.device)
        return self.dropout(self.norm(self.project(tokens) + self.position(positions)))
