"""COIN action segmentation (paper section 5.2): per-second labels, sliding windows, frame accuracy.

Protocol of VideoCLIP's public code (docs/data_formats.md): labels per second from floor(start) to ceil(end),
0 = background; a classifier runs over windows of the video whose logits are averaged where windows
overlap; frame accuracy = 1 - wrong seconds / all seconds, pooled over test videos, background included.
"""
from __future__ import annotations

import math

import numpy as np

BACKGROUND = 0


def per_second_labels(segments: list[tuple[float, float, int]], num_seconds: int) -> np.ndarray:
    """Label of every second (0 = background); a segment covers [floor(start), ceil(end)) clipped to
    the video, later segments overwriting earlier ones where they overlap."""
    if num_seconds < 1:
        raise ValueError(f"a video needs at least one second, got {num_seconds}")
    labels = np.full(num_seconds, BACKGROUND, dtype=np.int64)
    for index, (start, end, label) in enumerate(segments):
        if not isinstance(label, (int, np.integer)) or label <= BACKGROUND:
            raise ValueError(
                f"segment {index} ({start}-{end}): label {label!r} must be an integer >= 1 (0 is background)"
            )
        if not (math.isfinite(start) and math.isfinite(end)) or start > end:
            raise ValueError(f"segment {index} ({start}-{end}, label {label}): need finite start <= end")
        labels[max(math.floor(start), 0) : min(math.ceil(end), num_seconds)] = label
    return labels


def window_starts(num_seconds: int, window: int, stride: int) -> list[int]:
    """Start seconds of windows of ``window`` seconds every ``stride`` seconds covering the video.

    The last window is aligned to the video's end when the stride does not land there; a video no
    longer than one window gets a single window at 0.
    """
    if num_seconds < 1 or window < 1 or not 1 <= stride <= window:
        raise ValueError(
            f"need num_seconds >= 1, window >= 1 and 1 <= stride <= window, got {num_seconds}, {window}, {stride}"
        )
    if num_seconds <= window:
        return [0]
    starts = list(range(0, num_seconds - window + 1, stride))
    if starts[-1] + window < num_seconds:
        starts.append(num_seconds - window)
    return starts


def average_window_logits(window_logits: list[np.ndarray], starts: list[int], num_seconds: int) -> np.ndarray:
    """(num_seconds, C) logits: each second's mean over the windows covering it.

    Window i covers seconds ``starts[i] : starts[i] + len(window_logits[i])``; every second must be covered.
    """
    if not window_logits or len(window_logits) != len(starts):
        raise ValueError(
            f"need one start per window and at least one window, got {len(window_logits)} and {len(starts)}"
        )
    num_classes = np.asarray(window_logits[0]).shape[-1]
    total = np.zeros((num_seconds, num_classes), dtype=np.float64)
    count = np.zeros(num_seconds, dtype=np.int64)
    for index, (logits, start) in enumerate(zip(window_logits, starts)):
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != num_classes:
            raise ValueError(f"window {index}: logits must be (seconds, {num_classes}), got shape {logits.shape}")
        if start < 0 or start + len(logits) > num_seconds:
            raise ValueError(
                f"window {index}: seconds {start}..{start + len(logits)} fall outside the video (0..{num_seconds})"
            )
        total[start : start + len(logits)] += logits
        count[start : start + len(logits)] += 1
    uncovered = np.flatnonzero(count == 0)
    if uncovered.size:
        raise ValueError(f"second {int(uncovered[0])} of {num_seconds} is covered by no window")
    return total / count[:, None]


def frame_accuracy(predictions: list[np.ndarray], labels: list[np.ndarray]) -> float:
    """Percent of correctly labelled seconds pooled over all videos, background included."""
    if len(predictions) != len(labels) or not labels:
        raise ValueError(
            f"need as many predictions as label sequences (>= 1), got {len(predictions)} and {len(labels)}"
        )
    wrong = 0
    total = 0
    for index, (predicted, truth) in enumerate(zip(predictions, labels)):
        predicted = np.asarray(predicted)
        truth = np.asarray(truth)
        if predicted.ndim != 1 or predicted.shape != truth.shape:
            raise ValueError(
                f"video {index}: predictions of shape {predicted.shape} do not match labels of shape {truth.shape}"
            )
        wrong += int(np.count_nonzero(predicted != truth))
        total += truth.size
    if total == 0:
        raise ValueError("no labelled second in any video")
    return 100.0 * (1.0 - wrong / total)
