"""Multi-modal fusion module f_theta_m (paper 3.1) and the later-stage score w . z_cls (Eq. 5)."""
from __future__ import annotations

import torch
from torch import nn

from taco.model.layers import EMBEDDING_INIT_STD, SelfAttentionStack


class FusionModule(nn.Module):
    """Self-attention over [text tokens; video tokens] with token-type and absolute position embeddings.

    Text comes first, so output 0 is the text's [CLS]: its projection by ``w`` (a Linear d -> 1)
    is the later-stage alignment score of the pair (Eq. 5). With ``first_token_only`` (the default)
    the last layer computes that output alone, its keys and values still every real token, and each
    text, and each video at each position offset, is embedded once however many pairs share it
    (with one layer also normed and projected to keys and values once). False runs every pair's
    whole sequence through every layer (the same scores, for the equivalence tests and the
    benchmark's "before").
    """

    def __init__(self, hidden: int, num_layers: int, num_heads: int, ffn_multiplier: int,
                 dropout: float, max_positions: int, norm_first: bool = False, first_token_only: bool = True):
        super().__init__()
        self.first_token_only = first_token_only
        self.token_type = nn.Embedding(2, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        for embedding in (self.token_type, self.position):
            nn.init.normal_(embedding.weight, std=EMBEDDING_INIT_STD)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.layers = SelfAttentionStack(hidden, num_layers, num_heads, ffn_multiplier, dropout, norm_first)
        self.score = nn.Linear(hidden, 1)

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor, video: torch.Tensor, video_mask: torch.Tensor,
                text_index: torch.Tensor, video_index: torch.Tensor) -> torch.Tensor:
        """(T, n, d) text and (V, m, d) video tokens -> (P,) later-stage scores of the pairs
        (text_index[p], video_index[p])."""
        mask = torch.cat([text_mask[text_index], video_mask[video_index]], dim=1)
        # Absolute positions count real tokens only: video tokens follow the text's last real token,
        # so padding the text never moves the video.
        offsets = text_mask.sum(1)
        if not self.first_token_only or (self.training and self.dropout.p > 0):
            # Every pair's own sequence (with dropout, every pair draws its own embedding dropout).
            tokens = torch.cat([self._embed_text(text[text_index]),
                                self._embed_video(video[video_index], offsets[text_index])], dim=1)
            cls = (self.layers(tokens, mask, first_token_only=True) if self.first_token_only
                   else self.layers(tokens, mask)[:, 0])
            return self.score(cls).squeeze(-1)
        texts, text_of_pair = torch.unique(text_index, return_inverse=True)
        stride = text.shape[1] + 1
        placed, placed_of_pair = torch.unique(video_index * stride + offsets[text_index], return_inverse=True)
        parts = [self._embed_text(text[texts]), self._embed_video(video[placed // stride], placed % stride)]
        cls = self.layers.first_token_of_parts(parts, [text_of_pair, placed_of_pair], mask)
        return self.score(cls).squeeze(-1)

    def _embed_text(self, text: torch.Tensor) -> torch.Tensor:
        """(B, n, d) text tokens at positions 0..n-1 -> fusion inputs."""
        return self.dropout(self.norm(text + self.token_type.weight[0] + self.position.weight[:text.shape[1]]))

    def _embed_video(self, video: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """(B, m, d) video tokens placed after ``offsets`` (B,) real text tokens -> fusion inputs."""
        positions = offsets[:, None] + torch.arange(video.shape[1], device=video.device)
        return self.dropout(self.norm(video + self.token_type.weight[1] + self.position(positions)))
