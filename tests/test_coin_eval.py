import numpy as np
import pytest

from taco.downstream.coin_eval import average_window_logits, frame_accuracy, per_second_labels, window_starts


def test_per_second_labels_hand_example():
    segments = [(1.5, 3.2, 4), (3.0, 5.0, 7), (8.4, 12.0, 2)]
    # label 4 on floor(1.5)=1 .. ceil(3.2)=4 -> seconds 1,2,3; label 7 on 3..5 -> 3,4 (overwrites 3);
    # label 2 on 8 .. 12 clipped to 10 -> 8,9; the rest is background 0.
    np.testing.assert_array_equal(per_second_labels(segments, 10), [0, 4, 4, 7, 7, 0, 0, 0, 2, 2])


@pytest.mark.parametrize(
    "segment, message", [((0.0, 1.0, 0), "segment 0 .*>= 1"), ((3.0, 1.0, 2), "start <= end")]
)
def test_per_second_labels_rejects_bad_segment(segment, message):
    with pytest.raises(ValueError, match=message):
        per_second_labels([segment], 5)


@pytest.mark.parametrize(
    "num_seconds, window, stride, expected",
    [
        (100, 32, 16, [0, 16, 32, 48, 64, 68]),  # 64 + 32 = 96 < 100: a last window ends at 100
        (96, 32, 16, [0, 16, 32, 48, 64]),  # 64 + 32 = 96 reaches the end already
        (40, 32, 8, [0, 8]),
        (32, 32, 8, [0]),
        (20, 32, 8, [0]),  # shorter than a window
    ],
)
def test_window_starts_hand_examples(num_seconds, window, stride, expected):
    assert window_starts(num_seconds, window, stride) == expected


def test_window_starts_cover_every_second_inside_the_video():
    for num_seconds in range(1, 80):
        for window, stride in ((32, 8), (32, 16), (5, 5), (7, 3)):
            starts = window_starts(num_seconds, window, stride)
            covered = np.zeros(num_seconds, dtype=bool)
            for start in starts:
                assert 0 <= start and (start + window <= num_seconds or start == 0)
                covered[start : start + window] = True
            assert covered.all()
            assert starts == sorted(set(starts))


def test_window_starts_rejects_gaps():
    with pytest.raises(ValueError, match="stride <= window"):
        window_starts(100, 8, 16)


def test_average_window_logits_hand_example():
    first = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])  # seconds 0, 1, 2
    second = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])  # seconds 2, 3, 4
    # second 2 is covered by both: ([3, 0] + [0, 1]) / 2 = [1.5, 0.5]
    expected = np.array([[1.0, 0.0], [2.0, 0.0], [1.5, 0.5], [0.0, 2.0], [0.0, 3.0]])
    np.testing.assert_allclose(average_window_logits([first, second], [0, 2], 5), expected)


def test_average_window_logits_clipped_last_window():
    # video of 4 s, windows of 3 s every 2 s: [0, 3) and [2, 4) clipped to 2 rows
    first = np.array([[3.0], [6.0], [9.0]])
    last = np.array([[1.0], [5.0]])
    np.testing.assert_allclose(average_window_logits([first, last], [0, 2], 4), [[3.0], [6.0], [5.0], [5.0]])


def test_average_window_logits_errors():
    with pytest.raises(ValueError, match="second 2 of 4"):
        average_window_logits([np.zeros((2, 3))], [0], 4)
    with pytest.raises(ValueError, match="window 1: seconds 3..6"):
        average_window_logits([np.zeros((3, 3)), np.zeros((3, 3))], [0, 3], 5)
    with pytest.raises(ValueError, match="window 1: logits"):
        average_window_logits([np.zeros((3, 3)), np.zeros((2, 4))], [0, 1], 3)


def test_frame_accuracy_pools_seconds_over_videos():
    predictions = [np.array([0, 1, 1, 2]), np.array([3, 3])]
    labels = [np.array([0, 1, 2, 2]), np.array([3, 0])]
    # 1 wrong of 4 + 1 wrong of 2 = 2 wrong of 6 seconds (background included) -> 100 * (1 - 2/6);
    # a mean over videos would give (75 + 50) / 2 = 62.5 instead.
    assert frame_accuracy(predictions, labels) == pytest.approx(100 * (1 - 2 / 6))


def test_frame_accuracy_names_mismatched_video():
    with pytest.raises(ValueError, match="video 1"):
        frame_accuracy([np.zeros(3), np.zeros(4)], [np.zeros(3), np.zeros(5)])
