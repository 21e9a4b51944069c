import itertools

import numpy as np
import pytest

from taco.downstream.crosstask_eval import (
    crosstask_recall,
    ground_truth_matrix,
    step_localization_dp,
    step_log_probabilities,
    video_hits,
)


def brute_force_best_total(scores: np.ndarray) -> float:
    """Best summed score over every ordered placement: strictly increasing seconds when T >= K,
    non-decreasing seconds when T < K (the documented fallback)."""
    num_seconds, num_steps = scores.shape
    if num_seconds >= num_steps:
        placements = itertools.combinations(range(num_seconds), num_steps)
    else:
        placements = itertools.combinations_with_replacement(range(num_seconds), num_steps)
    return max(sum(scores[t, k] for k, t in enumerate(seconds)) for seconds in placements)


@pytest.mark.parametrize("num_seconds", range(1, 8))
@pytest.mark.parametrize("num_steps", range(1, 5))
def test_dp_matches_brute_force(num_seconds, num_steps):
    rng = np.random.default_rng(100 * num_seconds + num_steps)
    for _ in range(15):
        scores = rng.normal(size=(num_seconds, num_steps))
        placement = step_localization_dp(scores)
        assert placement.shape == scores.shape
        assert set(np.unique(placement)) <= {0, 1}
        assert (placement.sum(axis=0) == 1).all()
        seconds = placement.argmax(axis=0)
        steps_gaps = np.diff(seconds)
        if num_seconds >= num_steps:
            assert (steps_gaps > 0).all()
        else:
            assert (steps_gaps >= 0).all()
        total = scores[seconds, np.arange(num_steps)].sum()
        assert total == pytest.approx(brute_force_best_total(scores))


def test_dp_respects_order_over_greedy_choice():
    # Step 1 scores best at second 3, step 2 best at second 0: the order forces a compromise.
    scores = np.array([[0.0, 5.0], [1.0, 0.0], [0.0, 2.0], [4.0, 0.0]])
    # options: (1,2) -> 1 + 2 = 3; (0,2) -> 2; (3,?) impossible; (1,3)/(2,3) -> <= 1; best is 3
    placement = step_localization_dp(scores)
    assert placement[:, 0].argmax() == 1 and placement[:, 1].argmax() == 2


def test_dp_rejects_bad_input():
    with pytest.raises(ValueError, match="1 NaN"):
        step_localization_dp(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        step_localization_dp(np.zeros((0, 3)))


def test_ground_truth_matrix_fractional_boundaries():
    annotations = [(1, 0.4, 2.2), (3, 4.5, 7.9), (2, 2.0, 3.0), (1, 5.0, 5.0)]
    # step 1: floor(0.4)=0 .. ceil(2.2)=3 -> seconds 0,1,2; step 3: 4 .. ceil(7.9)=8 clipped to 6 -> 4,5;
    # step 2: 2 .. 3 -> second 2; step 1 at [5.0, 5.0]: floor = ceil = 5 -> empty range.
    expected = np.array(
        [
            [1, 0, 0],
            [1, 0, 0],
            [1, 1, 0],
            [0, 0, 0],
            [0, 0, 1],
            [0, 0, 1],
        ]
    )
    np.testing.assert_array_equal(ground_truth_matrix(annotations, 6, 3), expected)
    # negative start clips to 0: floor(-1.5) = -2 -> 0 .. ceil(0.5) = 1
    np.testing.assert_array_equal(ground_truth_matrix([(2, -1.5, 0.5)], 3, 2), [[0, 1], [0, 0], [0, 0]])


@pytest.mark.parametrize(
    "annotation, message",
    [((4, 0.0, 1.0), "annotation 0 .*1..3"), ((1, 3.0, 1.0), "start <= end"), ((1.0, 0.0, 1.0), "integer")],
)
def test_ground_truth_matrix_rejects_bad_annotation(annotation, message):
    with pytest.raises(ValueError, match=message):
        ground_truth_matrix([annotation], 5, 3)


def test_video_hits_hand_example():
    gt = ground_truth_matrix([(1, 0.4, 2.2), (2, 2.0, 3.0), (3, 4.5, 7.9)], 6, 4)  # step 4 not annotated
    pred = np.zeros((6, 4), dtype=int)
    pred[1, 0] = 1  # step 1 at second 1: inside [0, 3) -> hit
    pred[3, 1] = 1  # step 2 at second 3: outside [2, 3) -> miss
    pred[5, 2] = 1  # step 3 at second 5: inside [4, 6) -> hit
    pred[5, 3] = 1  # step 4 has no ground truth: neither hit nor annotated
    assert video_hits(pred, gt) == (2, 3)


def test_video_hits_rejects_malformed_prediction():
    gt = np.zeros((4, 2), dtype=int)
    with pytest.raises(ValueError, match="shape"):
        video_hits(np.zeros((3, 2), dtype=int), gt)
    with pytest.raises(ValueError, match="exactly one"):
        video_hits(np.ones((4, 2), dtype=int), gt)


def test_crosstask_recall_pools_videos_then_averages_tasks():
    per_video = [
        ("A", 2, 3),
        ("B", 0, 1),
        ("A", 1, 2),
        ("B", 3, 4),
        ("B", 1, 1),
    ]
    result = crosstask_recall(per_video)
    # task A: (2 + 1) / (3 + 2) = 3/5 = 60 %; task B: (0 + 3 + 1) / (1 + 4 + 1) = 4/6 = 66.67 %
    # final = (60 + 66.67) / 2 = 63.33 % (a mean over videos would give a different number)
    assert result["per_task"] == pytest.approx({"A": 60.0, "B": 400 / 6})
    assert result["recall"] == pytest.approx((60.0 + 400 / 6) / 2)


def test_crosstask_recall_rejects_bad_entries():
    with pytest.raises(ValueError, match="entry 1 of task B"):
        crosstask_recall([("A", 1, 1), ("B", 3, 2)])
    with pytest.raises(ValueError, match="task C"):
        crosstask_recall([("A", 1, 1), ("C", 0, 0)])
    with pytest.raises(ValueError, match="at least one"):
        crosstask_recall([])


def test_official_cost_moves_a_placement_that_raw_scores_get_wrong():
    """3 seconds, 2 steps. Raw scores: second 2 is high for both steps, so the raw DP puts step 2 there
    (placements (0,1): 2+2=4, (0,2): 2+10=12, (1,2): 0+10=10). Per-second log-softmax over the steps:
    [2, 0] -> [-0.1269, -2.1269], [0, 2] -> [-2.1269, -0.1269], [10, 10] -> [-0.6931, -0.6931], so
    (0,1): -0.2539, (0,2): -0.8201, (1,2): -2.8201 and the official DP puts step 2 at second 1."""
    scores = np.array([[2.0, 0.0], [0.0, 2.0], [10.0, 10.0]])
    log_p = step_log_probabilities(scores)
    a, b = -np.log1p(np.exp(-2.0)), -2.0 - np.log1p(np.exp(-2.0))
    np.testing.assert_allclose(log_p, [[a, b], [b, a], [-np.log(2), -np.log(2)]], rtol=1e-12)
    assert np.argmax(step_localization_dp(scores), axis=0).tolist() == [0, 2]
    assert np.argmax(step_localization_dp(log_p), axis=0).tolist() == [0, 1]


def test_log_probabilities_are_a_softmax_over_steps_and_shift_invariant():
    scores = np.random.default_rng(0).normal(size=(7, 4)) * 50
    log_p = step_log_probabilities(scores)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0)
    np.testing.assert_allclose(step_log_probabilities(scores + np.arange(7)[:, None] * 100), log_p, atol=1e-9)
