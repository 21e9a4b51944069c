"""Multi-modal fusion module f_theta_m (paper 3.1) and the later-stage score w . z_cls (Eq. 5)."""
from __future__ import annotations

import torch
from torch import nn

from taco.model.layers import EMBEDDING_INIT_STD, SelfAttentionStack


class FusionModule(nn.Module):
    """Self-attention over [text tokens; video tokens] with token-type and absolute position embeddings.

    Text comes first, so output 0 is the text's [CLS]: its projection by ``w`` (a Linear d -> 1)
    is the later-stage alignment score of the pair (Eq. 5). With ``first_token_only`` (the default)
    the last layer computes that output alone, its keys and values still every real token; False
    runs the last layer over the whole sequence (the same scores, for the equivalence tests and
    the benchmark's "before").
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

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor,
                video: torch.Tensor, video_mask: torch.Tensor) -> torch.Tensor:
        """Paired (P, n, d) text and (P, m, d) video tokens -> (P,) later-stage scores."""
        tokens = torch.cat([text + self.token_type.weight[0], video + self.token_type.weight[1]], dim=1)
        # Absolute positions count real tokens only: video tokens follow the text's last real token,
        # so padding the text never moves the video.
        text_positions = torch.arange(text.shape[1], device=text.device).expand(text.shape[0], -1)
        video_positions = text_mask.sum(1, keepdim=True) + torch.arange(video.shape[1], device=video.device)
        positions = torch.cat([text_positions, video_positions], dim=1)
        tokens = self.dropout(self.norm(tokens + self.position(positions)))
        mask = torch.cat([text_mask, video_mask], dim=1)
        if self.first_token_only:
            cls = self.layers(tokens, mask, first_token_only=True)
        else:
            cls = self.layers(tokens, mask)[:, 0]
        return self.score(cls).squeeze(-1)
