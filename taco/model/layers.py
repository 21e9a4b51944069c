"""Self-attention stacks shared by the video encoder, the text top layers and the fusion module."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention; padded tokens are never attended to. Keys and
    values (``key_value``) and the attention of queries over them (``attend``) are separate steps.

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

    def key_value(self, tokens: torch.Tensor) -> torch.Tensor:
        """Packed keys and values of (..., L, d) tokens -> (..., L, 2d): a per-token map, so tokens
        shared by several sequences can be projected once and gathered."""
        hidden = tokens.shape[-1]
        return F.linear(tokens, self.in_proj_weight[hidden:], self.in_proj_bias[hidden:])

    def attend(self, queries: torch.Tensor, key_value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, q, d) queries attend over (B, L, 2d) packed keys and values whose ``mask`` (B, L) is True
        -> (B, q, d)."""
        hidden = queries.shape[-1]
        key, value = key_value.chunk(2, dim=-1)
        query = F.linear(queries, self.in_proj_weight[:hidden], self.in_proj_bias[:hidden])
        attended = F.scaled_dot_product_attention(
            self._heads(query), self._heads(key), self._heads(value),
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

    def attention_input(self, tokens: torch.Tensor) -> torch.Tensor:
        """What the attention projects: the normed tokens (pre-norm) or the tokens themselves (post-norm)."""
        return self.norm1(tokens) if self.norm_first else tokens

    def finish(self, residual: torch.Tensor, query_input: torch.Tensor, key_value: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
        """The layer's (B, q, d) outputs of q query tokens, given their (B, q, d) values ``residual``,
        their ``attention_input`` and the sequences' packed keys and values (``self_attn.key_value``)."""
        attended = self.dropout1(self.self_attn.attend(query_input, key_value, mask))
        if self.norm_first:
            x = residual + attended
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(residual + attended)
        return self.norm2(x + self._feed_forward(x))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """(B, L, d) tokens, (B, L) mask (True = real) -> (B, L, d), or (B, queries, d) when given."""
        rows = slice(None) if queries is None else slice(0, queries)
        inputs = self.attention_input(tokens)
        return self.finish(tokens[:, rows], inputs[:, rows], self.self_attn.key_value(inputs), mask)

    def first_token_of_parts(self, parts: list[torch.Tensor], indices: list[torch.Tensor],
                             mask: torch.Tensor) -> torch.Tensor:
        """``forward(tokens, mask, queries=1)`` of the sequences ``tokens[p] = cat(parts[0][indices[0][p]],
        parts[1][indices[1][p]], ...)``, each part's keys and values projected once per part row, not
        once per sequence: (N_i, L_i, d) parts, (P,) indices -> (P, 1, d)."""
        inputs = [self.attention_input(part) for part in parts]
        # One gather from the stacked per-row keys and values: row ``index[p]`` of part i is the
        # L_i consecutive rows from ``offset_i + index[p] * L_i`` of the stacked table.
        rows, offset = [], 0
        for x, index in zip(inputs, indices):
            rows.append(offset + index[:, None] * x.shape[1] + torch.arange(x.shape[1], device=index.device))
            offset += x.shape[0] * x.shape[1]
        table = torch.cat([self.self_attn.key_value(x).flatten(0, 1) for x in inputs])
        key_value = table[torch.cat(rows, dim=1)]
        return self.finish(parts[0][indices[0], :1], inputs[0][indices[0], :1], key_value, mask)


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

    def first_token_of_parts(self, parts: list[torch.Tensor], indices: list[torch.Tensor],
                             mask: torch.Tensor) -> torch.Tensor:
        """``forward(tokens, mask, first_token_only=True)`` of the sequences ``tokens[p] =
        cat(parts[0][indices[0][p]], parts[1][indices[1][p]], ...)`` -> (P, d). With one layer, each
        part row is normed and projected to keys and values once, however many sequences share it."""
        layers = self.encoder.layers
        if len(layers) != 1:
            tokens = torch.cat([part[index] for part, index in zip(parts, indices)], dim=1)
            return self(tokens, mask, first_token_only=True)
        first = layers[0].first_token_of_parts(parts, indices, mask)
        return (self.encoder.norm(first) * mask[:, :1, None].to(first.dtype))[:, 0]


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
        return self.dropout(self.norm(self.project(tokens) + self.position.weight[:length]))
