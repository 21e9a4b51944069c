"""Evaluation's score matrices against naive per-pair loops."""
import pytest
import torch

from taco.evaluate import EncodedSet, token_level_scores


def naive_token_level_scores(encoded: EncodedSet) -> torch.Tensor:
    """sum_p w_ip max_t x_jt . y_ip over the unpadded video tokens, one pair at a time (Eq. 4's s)."""
    n_text, n_video = encoded.text.shape[0], encoded.video.shape[0]
    out = torch.zeros(n_text, n_video, dtype=torch.float64)
    for i in range(n_text):
        for j in range(n_video):
            video = encoded.video[j][encoded.video_mask[j]].double()
            for p in range(encoded.text.shape[1]):
                weight = float(encoded.token_weights[i, p])
                if weight:
                    out[i, j] += weight * (video @ encoded.text[i, p].double()).max()
    return out


@pytest.mark.parametrize("chunk", [1, 5, 512])
def test_token_level_scores_equal_the_per_pair_sum(chunk):
    g = torch.Generator().manual_seed(0)
    n_text, n_video, n, m, d = 7, 5, 6, 4, 8
    text, video = torch.randn(n_text, n, d, generator=g), torch.randn(n_video, m, d, generator=g)
    video_mask = torch.arange(m)[None] < torch.tensor([4, 1, 3, 2, 4])[:, None]
    video[~video_mask] = 100.0  # padding must never win the max
    weights = torch.rand(n_text, n, generator=g) * (torch.rand(n_text, n, generator=g) < 0.5)
    weights[3] = 0  # a caption without tokens of interest scores 0 with every video
    encoded = EncodedSet(text, torch.ones(n_text, n, dtype=torch.bool), weights, video, video_mask)
    scores = token_level_scores(encoded, chunk=chunk)
    assert scores.dtype == torch.float32 and scores.shape == (n_text, n_video)
    assert torch.allclose(scores.double(), naive_token_level_scores(encoded), atol=1e-5)
    assert torch.all(scores[3] == 0)
