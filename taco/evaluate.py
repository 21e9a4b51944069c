"""Alignment scores of every text-video pair of a test set and their retrieval metrics.

Scores (paper 3.4, appendix B): early = x-bar_j . y-bar_i (Eq. 3), token = sum_p w_ip s(x_j, y_i^p)
with the sentence-normalised IDF weights of Eq. 4, later = w . z_cls of the fusion layers (Eq. 5),
fused = the sum of the trained stages' scores, the token score scaled by the test-time weight
(0.5 by default, Figure 3). A stage whose loss was not trained is left out of the fused score.

The later score needs one fusion pass per pair. ``full`` scores all N_text x N_video pairs in
bounded batches; ``rerank`` scores only each query's top-k candidates under early + weighted token
scores (both directions) and ranks them above the rest, which keep their early + token order.
All pairs cost N_text x N_video fusion passes: ``eval.all_pairs_queries`` caps the text queries a
test set is scored with then, a seeded draw that depends only on the set's size, so every model of
a dataset scored that way is evaluated on the same queries (paired comparisons use the intersection).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from taco.config import EvalConfig, LossConfig
from taco.losses import global_scores, token_scores
from taco.metrics import retrieval_metrics


@dataclass
class EncodedSet:
    """Encoded tokens of a test set: texts (N_t, n, d) and videos (N_v, m, d) with masks and weights."""

    text: torch.Tensor
    text_mask: torch.Tensor
    token_weights: torch.Tensor
    video: torch.Tensor
    video_mask: torch.Tensor

    def with_texts(self, rows: np.ndarray) -> EncodedSet:
        """The same videos with only the texts ``rows``."""
        rows = torch.as_tensor(rows, device=self.text.device)
        return EncodedSet(self.text[rows], self.text_mask[rows], self.token_weights[rows], self.video,
                          self.video_mask)


def _concat_padded(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(tokens.shape[1] for tokens, _ in parts)
    tokens = torch.cat([F.pad(t, (0, 0, 0, length - t.shape[1])) for t, _ in parts])
    masks = torch.cat([F.pad(m, (0, length - m.shape[1])) for _, m in parts])
    return tokens, masks


@torch.no_grad()
def encode_split(model, data, split: str, batch_size: int = 256, device: str | torch.device = "cpu",
                 progress: bool = False) -> EncodedSet:
    """Encode every caption and every distinct video segment of ``split`` of a RetrievalData."""
    model.eval()
    part = data.splits[split]
    videos, texts, weights = [], [], []
    for start in tqdm(range(0, len(part.segments), batch_size), desc=f"encode {split} videos",
                      disable=not progress, leave=False):
        features, mask = data.video_batch(split, range(start, min(start + batch_size, len(part.segments))))
        mask = mask.to(device)
        videos.append((model.encode_video(features.to(device), mask).float(), mask))
    for start in tqdm(range(0, len(part), batch_size), desc=f"encode {split} texts",
                      disable=not progress, leave=False):
        tokens, mask, token_weights = data.text_batch(split, range(start, min(start + batch_size, len(part))))
        mask = mask.to(device)
        texts.append((model.encode_text(tokens.to(device), mask).float(), mask))
        weights.append(token_weights.to(device))
    video, video_mask = _concat_padded(videos)
    text, text_mask = _concat_padded(texts)
    length = text.shape[1]
    token_weights = torch.cat([F.pad(w, (0, length - w.shape[1])) for w in weights])
    return EncodedSet(text, text_mask, token_weights, video, video_mask)


def token_level_scores(encoded: EncodedSet, chunk: int = 512) -> torch.Tensor:
    """sum_p w_ip s(x_j, y_i^p) for all pairs (N_t, N_v), over the tokens of interest (w_ip > 0)
    only, ``chunk`` of them at a time: the others add exactly 0."""
    text_ids, positions = encoded.token_weights.nonzero(as_tuple=True)
    scores = encoded.text.new_zeros(encoded.text.shape[0], encoded.video.shape[0])
    for start in range(0, len(text_ids), chunk):
        rows, cols = text_ids[start:start + chunk], positions[start:start + chunk]
        best = token_scores(encoded.text[rows, cols], encoded.video, encoded.video_mask)
        scores.index_add_(0, rows, (best * encoded.token_weights[rows, cols, None]).to(scores.dtype))
    return scores


def fusion_scores(model, encoded: EncodedSet, text_index: torch.Tensor, video_index: torch.Tensor,
                  batch_size: int, progress: bool = False) -> torch.Tensor:
    """Later-stage scores of the listed pairs, ``batch_size`` pairs per fusion pass. The passes take the
    pairs ordered by (text length, video, text): a pass then holds few (video, position offset)
    placements, and the fusion embeds each of them once (``FusionModule``)."""
    n_text, n_video = encoded.text.shape[0], encoded.video.shape[0]
    lengths = encoded.text_mask.sum(1)
    order = torch.argsort((lengths[text_index] * n_video + video_index) * n_text + text_index)
    out = []
    starts = range(0, text_index.shape[0], batch_size)
    for start in tqdm(starts, desc="fusion", disable=not progress, leave=False):
        chunk = order[start:start + batch_size]
        out.append(model.fuse_pairs(encoded.text, encoded.text_mask, encoded.video, encoded.video_mask,
                                    text_index[chunk], video_index[chunk]))
    scores = torch.cat(out) if out else encoded.text.new_zeros(0)
    return torch.empty_like(scores).index_copy_(0, order, scores)


def rerank_candidates(prior: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean (N_t, N_v) mask of each text's top-k videos and each video's top-k texts under ``prior``."""
    n_text, n_video = prior.shape
    mask = torch.zeros_like(prior, dtype=torch.bool)
    mask.scatter_(1, prior.topk(min(k, n_video), dim=1).indices, True)
    mask.scatter_(0, prior.topk(min(k, n_text), dim=0).indices, True)
    return mask


def rank_above(candidates: torch.Tensor, candidate_scores: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Scores where every candidate outranks every non-candidate; candidates ordered by their own score,
    the rest by ``prior``. Row-wise and column-wise orders are both preserved."""
    shifted = candidate_scores - candidate_scores[candidates].min() + prior.max() - prior.min() + 1.0
    return torch.where(candidates, shifted + prior.min(), prior)


def scores_all_pairs(loss_cfg: LossConfig, eval_cfg: EvalConfig) -> bool:
    """Whether the later stage is scored on every text-video pair (no early stage to re-rank from)."""
    return loss_cfg.use_l3 and (eval_cfg.fusion == "full" or not (loss_cfg.use_l1 or loss_cfg.use_l2))


def evaluated_queries(num_texts: int, loss_cfg: LossConfig, eval_cfg: EvalConfig) -> np.ndarray:
    """Indices of the text queries a test set is scored with: all of them, or, when every pair is
    fused, a seeded draw of ``eval.all_pairs_queries`` (0 = all) that depends on ``num_texts`` only."""
    cap = eval_cfg.all_pairs_queries
    if not scores_all_pairs(loss_cfg, eval_cfg) or cap <= 0 or cap >= num_texts:
        return np.arange(num_texts)
    return np.sort(np.random.default_rng(0).choice(num_texts, cap, replace=False))


@torch.no_grad()
def score_matrices(model, encoded: EncodedSet, loss_cfg: LossConfig, eval_cfg: EvalConfig,
                   progress: bool = False) -> dict[str, torch.Tensor]:
    """Early, token, later and fused (N_t, N_v) score matrices of one encoded test set, in float32
    also under bf16 autocast (bf16 scores would tie ranks)."""
    early = global_scores(encoded.video, encoded.video_mask, encoded.text).float()
    token = token_level_scores(encoded).float()
    scores = {"early": early, "token": token}
    prior_parts = ([early] if loss_cfg.use_l1 else []) + ([eval_cfg.token_weight * token] if loss_cfg.use_l2 else [])
    prior = sum(prior_parts) if prior_parts else None
    if loss_cfg.use_l3:
        n_text, n_video = early.shape
        if scores_all_pairs(loss_cfg, eval_cfg):
            # Without a trained early stage there is nothing to re-rank from: score every pair.
            text_index = torch.arange(n_text, device=early.device).repeat_interleave(n_video)
            video_index = torch.arange(n_video, device=early.device).repeat(n_text)
            later = fusion_scores(model, encoded, text_index, video_index, eval_cfg.fusion_batch_size,
                                  progress).float().view(n_text, n_video)
            scores["later"] = later
            scores["fused"] = later if prior is None else prior + later
        else:
            candidates = rerank_candidates(prior, eval_cfg.rerank_k)
            text_index, video_index = candidates.nonzero(as_tuple=True)
            pair_scores = fusion_scores(model, encoded, text_index, video_index, eval_cfg.fusion_batch_size,
                                        progress).float()
            later = torch.zeros_like(early)
            later[text_index, video_index] = pair_scores
            fused = torch.zeros_like(early)
            fused[text_index, video_index] = prior[text_index, video_index] + pair_scores
            scores["later"] = rank_above(candidates, later, prior)
            scores["fused"] = rank_above(candidates, fused, prior)
    else:
        scores["fused"] = prior
    return scores


def evaluate_scores(scores: dict[str, torch.Tensor], text_to_video: np.ndarray
                    ) -> tuple[dict[str, float], dict[str, dict[str, list[float]]]]:
    """Retrieval metrics of every score matrix, keys prefixed by the score name (e.g. ``fused/t2v_r1``),
    and each score's per-query text-to-video values (``retrieval_metrics(per_query=True)``, 4 decimals)."""
    metrics, per_query = {}, {}
    for name, matrix in scores.items():
        values, queries = retrieval_metrics(matrix.double().cpu().numpy(), text_to_video, per_query=True)
        metrics.update({f"{name}/{key}": value for key, value in values.items()})
        per_query[name] = {key: np.round(column, 4).tolist() for key, column in queries.items()}
    return metrics, per_query
