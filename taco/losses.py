"""TACo's three contrastive losses (paper Eq. 3-6) and the candidate sets of the fusion loss.

Conventions: score matrices are indexed [text i, video j]; every loss is an NCE over videos for a
text anchor (Eq. 3-5) and, for the fusion loss with sampled candidates, also over texts for a
video anchor ("for each text ... and vice versa", 3.3). Sums over anchors are averaged over the
global batch, so under torchrun the per-rank losses add up to the single-process loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from taco import distributed
from taco.config import LossConfig


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the unmasked tokens: (K, m, d), (K, m) -> (K, d); the video summary x-bar of Eq. 3."""
    weights = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def global_scores(video: torch.Tensor, video_mask: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Sentence-level scores x-bar_j . y-bar_i with y-bar the text [CLS] token: (K_text, K_video)."""
    return text[:, 0] @ masked_mean(video, video_mask).T


def token_scores(tokens: torch.Tensor, video: torch.Tensor, video_mask: torch.Tensor) -> torch.Tensor:
    """s(x_j, y_i^p) of Eq. 4 for a list of text tokens: max over the unmasked video tokens of
    x_j . y_i^p, (T, d) x (K_video, m, d) -> (T, K_video), one matrix product."""
    n_video, m, d = video.shape
    sims = (tokens @ video.reshape(n_video * m, d).T).view(len(tokens), n_video, m)
    return sims.masked_fill(~video_mask[None], float("-inf")).amax(dim=-1)


def sentence_nce(scores: torch.Tensor, tau: float, rows: torch.Tensor, total: int) -> torch.Tensor:
    """Eq. 3 for the text anchors ``rows`` (global indices; their positive video has the same index)."""
    logp = F.log_softmax(scores[rows] / tau, dim=1)
    return -logp.gather(1, rows[:, None]).sum() / total


def token_nce(scores: torch.Tensor, weights: torch.Tensor, texts: torch.Tensor, tau: float,
              total: int) -> torch.Tensor:
    """Eq. 4 over the tokens of interest, each token's NCE weighted by its sentence-normalised IDF
    weight: ``scores`` (T, K_video) of tokens of the texts ``texts`` (T,), whose positive video has
    the text's index. Other tokens have weight 0 and would add exactly 0."""
    logp = F.log_softmax(scores / tau, dim=1)
    return -(weights * logp.gather(1, texts[:, None]).squeeze(1)).sum() / total


def cascade_negatives(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k highest-scoring negatives per anchor (3.3, "cascade hard negative sampling").

    ``scores`` is (K, K) [text, video], positives on the diagonal. Returns (videos for each text
    (K, k), texts for each video (K, k)). Indices only: the sampler passes no gradient.
    """
    scores = scores.detach().clone()
    scores.fill_diagonal_(float("-inf"))
    return scores.topk(k, dim=1).indices, scores.T.topk(k, dim=1).indices


def random_negatives(num: int, k: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """k distinct random negatives per anchor, both directions: the conventional baseline."""
    noise = torch.rand(2, num, num, generator=generator).to(device)
    return cascade_negatives(noise[0], k)[0], cascade_negatives(noise[1], k)[0]


def candidate_nce(positive: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Per-anchor NCE of Eq. 5 over [positive, negatives]: (A,), (A, k) -> (A,)."""
    logits = torch.cat([positive[:, None], negatives], dim=1)
    return -F.log_softmax(logits, dim=1)[:, 0]


FULL_PAIRS_CHUNK = 512  # pairs per recomputed fusion pass when L3 runs over all K x K pairs


class TacoLoss(nn.Module):
    """L1 + lambda_t * L2 + L3 (Eq. 6), each term switchable; L3 over cascade, random or all pairs."""

    def __init__(self, cfg: LossConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, model, video: torch.Tensor, video_mask: torch.Tensor, text: torch.Tensor,
                text_mask: torch.Tensor, token_weights: torch.Tensor,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Encoded (K, m, d) video and (K, n, d) text tokens of one (local) batch -> loss terms."""
        cfg = self.cfg
        local = video.shape[0]
        video, video_mask, text, text_mask, token_weights = distributed.gather_batch(
            video, video_mask, text, text_mask, token_weights)
        total = video.shape[0]
        rows = torch.arange(local, device=video.device) + distributed.rank() * local
        zero = video.new_zeros(())
        terms = {"l1": zero, "l2": zero, "l3": zero}

        scores = global_scores(video, video_mask, text)
        if cfg.use_l1:
            terms["l1"] = sentence_nce(scores, cfg.tau1, rows, total)
        if cfg.use_l2:  # only the tokens of interest (w > 0): the others add 0 to L2 and to the cascade
            texts, positions = token_weights.nonzero(as_tuple=True)
            tokens = token_scores(text[texts, positions], video, video_mask)  # (T, K_video)
            anchor = (texts >= rows[0]) & (texts <= rows[-1])  # tokens of this rank's anchor texts
            terms["l2"] = token_nce(tokens[anchor], token_weights[texts, positions][anchor], texts[anchor],
                                    cfg.tau2, total)
        if cfg.use_l3:
            k = min(cfg.k_prime, total - 1)
            if cfg.negatives == "full":
                terms["l3"] = self._full_fusion_loss(model, video, video_mask, text, text_mask, rows, total)
            else:
                if cfg.negatives == "cascade":
                    combined = scores  # Sampling guided by the early-stage scores in use (3.3).
                    if cfg.use_l2:
                        combined = scores.index_add(0, texts, tokens.to(scores.dtype))
                    videos_for_text, texts_for_video = cascade_negatives(combined, k)
                else:
                    if generator is None:
                        raise ValueError("random negatives need a torch.Generator shared by all ranks")
                    videos_for_text, texts_for_video = random_negatives(total, k, generator, video.device)
                terms["l3"] = self._sampled_fusion_loss(model, video, video_mask, text, text_mask, rows, total,
                                                        videos_for_text[rows], texts_for_video[rows])
        terms["loss"] = terms["l1"] + cfg.lambda_t * terms["l2"] + terms["l3"]
        return terms

    @staticmethod
    def _sampled_fusion_loss(model, video, video_mask, text, text_mask, rows, total,
                             videos_for_text, texts_for_video) -> torch.Tensor:
        """Eq. 5 on 2K x (K'+1) pairs: each anchor text with K' videos, each anchor video with K' texts."""
        k = videos_for_text.shape[1]
        repeated = rows.repeat_interleave(k)
        text_index = torch.cat([rows, repeated, texts_for_video.reshape(-1)])
        video_index = torch.cat([rows, videos_for_text.reshape(-1), repeated])
        fused = model.fuse_pairs(text, text_mask, video, video_mask, text_index, video_index)
        num = rows.shape[0]
        positive = fused[:num]
        negatives_of_text = fused[num:num + num * k].view(num, k)
        negatives_of_video = fused[num + num * k:].view(num, k)
        anchors = candidate_nce(positive, negatives_of_text).sum() + candidate_nce(positive, negatives_of_video).sum()
        return anchors / (2 * total)

    @staticmethod
    def _full_fusion_loss(model, video, video_mask, text, text_mask, rows, total) -> torch.Tensor:
        """Eq. 5 over all K x K pairs (for measurement): NCE along the rows and the columns of the anchors."""
        everyone = torch.arange(total, device=video.device)
        num = rows.shape[0]
        # Rows: anchor texts against every video; columns: every text against the anchor videos.
        text_index = torch.cat([rows.repeat_interleave(total), everyone.repeat(num)])
        video_index = torch.cat([everyone.repeat(num), rows.repeat_interleave(total)])
        fused = model.fuse_pairs(text, text_mask, video, video_mask, text_index, video_index,
                                 batch_size=FULL_PAIRS_CHUNK, recompute=True)
        by_text = fused[:num * total].view(num, total)
        by_video = fused[num * total:].view(num, total)
        target = rows[:, None]
        anchors = (-F.log_softmax(by_text, 1).gather(1, target)).sum() + (-F.log_softmax(by_video, 1).gather(1, target)).sum()
        return anchors / (2 * total)
