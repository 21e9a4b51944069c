"""CrossTask action step localization (paper section 5.2): ordered step placement and recall.

Per video, a (T seconds, K steps) score matrix between frames and step descriptions is turned into
the official evaluation's cost, the negative log-softmax over the task's steps of each second
(``step_log_probabilities`` is its negative), and decoded by a dynamic program that places every
step once, in the task's order; a step is a hit when its predicted second lies inside its ground
truth. Recall is pooled per task, then averaged over tasks.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def step_log_probabilities(scores: np.ndarray) -> np.ndarray:
    """Log-softmax of each second's scores over the task's K steps (axis 1): what the official DP
    maximises (it minimises the negative). Raw scores would let a second whose scores are all high
    outweigh the steps' relative preference within a second."""
    scores = np.asarray(scores, dtype=np.float64)
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def step_localization_dp(scores: np.ndarray) -> np.ndarray:
    """Place each of the K steps at one second, in order, maximising the summed (second, step) scores.

    Step k goes to a strictly later second than step k-1, background allowed in between. When the
    video has fewer seconds than steps (T < K), distinct seconds are impossible; rather than placing
    nothing (as the official code does), steps then go in order at non-decreasing seconds, so several
    steps may share a second. Returns a (T, K) 0/1 matrix with exactly one 1 per column.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"step scores must be a non-empty (seconds, steps) matrix, got shape {scores.shape}")
    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad:
        raise ValueError(f"step scores contain {bad} NaN or infinite entries")
    num_seconds, num_steps = scores.shape
    gap = 1 if num_seconds >= num_steps else 0  # minimum seconds between consecutive steps

    # best_total[t, k]: best summed score of steps 0..k with step k placed at second t.
    best_total = np.full((num_seconds, num_steps), -np.inf)
    best_total[:, 0] = scores[:, 0]
    for k in range(1, num_steps):
        best_before = np.maximum.accumulate(best_total[:, k - 1])  # max over seconds <= t
        if gap:
            best_before = np.concatenate(([-np.inf], best_before[:-1]))  # max over seconds < t
        best_total[:, k] = scores[:, k] + best_before

    placement = np.zeros((num_seconds, num_steps), dtype=np.int64)
    second = int(np.argmax(best_total[:, -1]))
    placement[second, -1] = 1
    for k in range(num_steps - 2, -1, -1):
        second = int(np.argmax(best_total[: second + 1 - gap, k]))
        placement[second, k] = 1
    return placement


def ground_truth_matrix(
    annotations: list[tuple[int, float, float]], num_seconds: int, num_steps: int
) -> np.ndarray:
    """(num_seconds, num_steps) 0/1 matrix: Y[floor(start):ceil(end), step-1] = 1, step 1-based, clipped."""
    if num_seconds < 1 or num_steps < 1:
        raise ValueError(f"ground truth needs at least one second and one step, got {num_seconds} x {num_steps}")
    truth = np.zeros((num_seconds, num_steps), dtype=np.int64)
    for index, (step, start, end) in enumerate(annotations):
        if not isinstance(step, (int, np.integer)) or not 1 <= step <= num_steps:
            raise ValueError(
                f"annotation {index} (step {step}, {start}-{end}): step must be an integer in 1..{num_steps}"
            )
        if not (math.isfinite(start) and math.isfinite(end)) or start > end:
            raise ValueError(f"annotation {index} (step {step}, {start}-{end}): need finite start <= end")
        first = max(math.floor(start), 0)
        last = min(math.ceil(end), num_seconds)
        truth[first:last, step - 1] = 1
    return truth


def video_hits(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int]:
    """(hits, annotated steps) of one video: a step is annotated if its gt column has a 1 and hit if
    its predicted second is one of them."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} does not match ground truth shape {gt.shape}")
    if not np.isin(pred, (0, 1)).all() or not (pred.sum(axis=0) == 1).all():
        raise ValueError("prediction must be 0/1 with exactly one predicted second per step")
    annotated = gt.any(axis=0)
    hit = (pred * (gt != 0)).sum(axis=0) > 0
    return int(np.sum(hit & annotated)), int(np.sum(annotated))


def crosstask_recall(per_video: list[tuple[str, int, int]]) -> dict:
    """Recall (percent) per task = summed hits / summed annotated steps over its videos; final = mean
    over tasks. Returns ``{"per_task": {task: recall}, "recall": mean}``."""
    if not per_video:
        raise ValueError("crosstask_recall needs at least one video")
    hits: dict[str, int] = defaultdict(int)
    annotated: dict[str, int] = defaultdict(int)
    for index, (task, video_hit_count, video_annotated) in enumerate(per_video):
        if not 0 <= video_hit_count <= video_annotated:
            raise ValueError(
                f"video entry {index} of task {task}: "
                f"need 0 <= hits ({video_hit_count}) <= annotated ({video_annotated})"
            )
        hits[task] += video_hit_count
        annotated[task] += video_annotated
    empty = sorted(task for task, total in annotated.items() if total == 0)
    if empty:
        raise ValueError(f"task {empty[0]} has no annotated step in any of its videos: recall undefined")
    per_task = {task: 100.0 * hits[task] / annotated[task] for task in annotated}
    return {"per_task": per_task, "recall": float(np.mean(list(per_task.values())))}
