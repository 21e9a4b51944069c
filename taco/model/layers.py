"""Self-attention stacks shared by the video encoder, the text top layers and the fusion module."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention; padded tokens are never attended to.

    Parameters are laid out (and initialised) as in ``nn.MultiheadAttention``: one packed
    query/key/value projection ``in_proj_weight`` (3d, d) and ``out_proj``.
    """

    def __init__(self, hidden: int, num_heads: int, dropout: float):
        super().__init__()
        if hidden % num_heads:
            raise ValueError(f"hidden size {hidden} is not a multiple of {num_heads} heads")
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden, hidden))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden))
        self.out_proj = nn.Linear(hidden, hidden)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d) -> (B, heads, L, d / heads)."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, q, d) queries attend over (B, L, d) tokens whose ``mask`` (B, L) is True -> (B, q, d).

        ``queries`` may be ``tokens`` itself or its first q rows: only the rows asked for are projected.
        """
        hidden = tokens.shape[-1]
        w_q, w_kv = self.in_proj_weight.split([hidden, 2 * hidden])
        b_q, b_kv = self.in_proj_bias.split([hidden, 2 * hidden])
        key, value = F.linear(tokens, w_kv, b_kv).chunk(2, dim=-1)
        attended = F.scaled_dot_product_attention(
            self._heads(F.linear(queries, w_q, b_q)), self._heads(key), self._heads(value),
            attn_mask=mask[:, None, None, :], dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out_proj(attended.transpose(1, 2).flatten(2))


class SelfAttentionLayer(nn.Module):
    """One Transformer encoder layer (GELU feed-forward), post-norm (BERT) or pre-norm (``norm_first``).

    Same arithmetic and parameter names as ``nn.TransformerEncoderLayer(..., activation="gelu")``,
    plus ``queries``: compute the outputs of the first ``queries`` tokens only (keys and values
    still come from every real token), which is all the fusion score reads of the last layer (Eq. 5).
    """

    def __init__(self, hidden: int, num_heads: int, ffn_multiplier: int, dropout: float, norm_first: bool):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = SelfAttention(hidden, num_heads, dropout)
        self.linear1 = nn.Linear(hidden, hidden * ffn_multiplier)
        self.linear2 = nn.Linear(hidden * ffn_multiplier, hidden)
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(F.gelu(self.linear1(x)))))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """(B, L, d) tokens, (B, L) mask (True = real) -> (B, L, d), or (B, queries, d) when given."""
        rows = slice(None) if queries is None else slice(0, queries)
        if self.norm_first:
            normed = self.norm1(tokens)
            x = tokens[:, rows] + self.dropout1(self.self_attn(normed[:, rows], normed, mask))
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(tokens[:, rows] + self.dropout1(self.self_attn(tokens[:, rows], tokens, mask)))
        return self.norm2(x + self._feed_forward(x))


class SelfAttentionStack(nn.Module):
    """``num_layers`` Transformer layers over a padded batch, post-norm (BERT style) or pre-norm;
    a pre-norm stack ends with a LayerNorm (its layers' outputs are un-normalised residual sums).

    ``mask`` is True for real tokens; padded tokens are excluded from attention as keys and their
    outputs are zeroed, so padding can never leak into a pooled score.
    """

    def __init__(self, hidden: int, num_layers: int, num_heads: int, ffn_multiplier: int, dropout: float,
                 norm_first: bool = False):
        super().__init__()
        # ``encoder.layers.<i>`` and ``encoder.norm``: nn.TransformerEncoder's names, so checkpoints keep loading.
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(
            SelfAttentionLayer(hidden, num_heads, ffn_multiplier, dropout, norm_first) for _ in range(num_layers))
        self.encoder.norm = nn.LayerNorm(hidden) if norm_first and num_layers > 0 else nn.Identity()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, first_token_only: bool = False) -> torch.Tensor:
        """(B, L, d) tokens -> (B, L, d) outputs, padding zeroed; with ``first_token_only`` the (B, d)
        output of token 0, the last layer computing that row alone."""
        layers = self.encoder.layers
        for index, layer in enumerate(layers):
            last = index == len(layers) - 1
            tokens = layer(tokens, mask, queries=1 if first_token_only and last else None)
        tokens = self.encoder.norm(tokens) * mask[:, :tokens.shape[1], None].to(tokens.dtype)
        return tokens[:, 0] if first_token_only else tokens


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
