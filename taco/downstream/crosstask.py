"""CrossTask action step localization with a trained TACo model (paper 5.2, Table 9).

"We use our model to compute the similarity between each frame and the action step descriptions,
which results in a score matrix"; as in the official evaluation, the dynamic program places the steps
in order on each second's log-softmax over the task's steps, and recall is computed per task and
averaged (``crosstask_eval``). A test video without an annotation file is skipped (as the official
code does) and logged.

Which of TACo's scores: the early-stage one, x_t . y-bar_k, the video encoder's output token of
second t dotted with step k's text [CLS] embedding (the per-frame form of Eq. 3's x-bar . y-bar).
The later-stage (fusion) score is defined for a clip-caption pair, not a frame; a per-second fusion
score would need T x K fusion passes per video; the early stage is per frame by construction, and a
per-frame matrix is what the DP compares. (The token-level score of Eq. 4 is a max over a clip's
frames, hence also a clip score.) The video encoder sees the whole video at 1 token per second,
in windows of at most ``data.max_video_tokens`` seconds (its position limit); step descriptions go
through the model's text path prepared exactly as training captions are (``prepare_text``, and in
frozen mode the cached pretrained text features).

Test videos (official protocol, docs/data_formats.md): per primary task, the videos of ``videos.csv`` not in
``videos_val.csv``; ``train_per_task`` (30) of them are drawn at random (seeded) as training videos
when more remain, and the rest are tested; a task with no more videos than that has no test video.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from taco.data.crosstask import CrossTask, load_crosstask
from taco.data.retrieval import frozen_text_cache, text_tokens
from taco.downstream.common import encode_per_second, per_second_features, tracked_job
from taco.downstream.crosstask_eval import (
    crosstask_recall,
    ground_truth_matrix,
    step_localization_dp,
    step_log_probabilities,
    video_hits,
)
from taco.features.store import FeatureStore
from taco.text.prepare import prepare_text

TRAIN_PER_TASK = 30  # training videos drawn per task by the official code

logger = logging.getLogger("taco.crosstask")


def draw_split(crosstask: CrossTask, seed: int, train_per_task: int = TRAIN_PER_TASK
               ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(training, test) video ids per primary task, each in videos.csv order (module doc).

    Tasks are visited in sorted order with one ``random.Random(seed)``; tasks without a test video
    are absent from the test dict.
    """
    if train_per_task < 0:
        raise ValueError(f"train_per_task must be >= 0, got {train_per_task}")
    val = set(crosstask.val_videos)
    rng = random.Random(seed)
    train, test = {}, {}
    for task_id in sorted(crosstask.tasks):
        videos = list(dict.fromkeys(v for t, v in crosstask.videos if t == task_id and (t, v) not in val))
        if len(videos) <= train_per_task:
            train[task_id] = videos
            continue
        drawn = set(rng.sample(videos, train_per_task))
        train[task_id] = [v for v in videos if v in drawn]
        test[task_id] = [v for v in videos if v not in drawn]
    return train, test


@torch.no_grad()
def text_embeddings(model, cfg, captions: list[str], progress: bool = False) -> torch.Tensor:
    """(K, d) text [CLS] embeddings y-bar of ``captions`` through the model's text path."""
    # token_type "none": only the wordpieces matter here, not the token-level loss weights
    _, tables = prepare_text({"train": captions}, "none", cfg.model.text_model, cfg.data.max_text_tokens,
                             cfg.cache_dir, progress=progress)
    table = tables["train"]
    tokens, mask, _ = text_tokens(table, np.arange(len(captions)), frozen_text_cache(cfg, [table], progress))
    model.eval()
    return model.encode_text(tokens, mask)[:, 0].float()


def frame_step_scores(model, features: np.ndarray, steps: torch.Tensor, max_tokens: int) -> np.ndarray:
    """(T, K) early-stage scores: the encoder's token of each second dotted with each step's [CLS]."""
    return (encode_per_second(model, features, max_tokens) @ steps.T).double().numpy()


def localization_recall(crosstask: CrossTask, test: dict[str, list[str]],
                        scores_of: Callable[[str, str], np.ndarray], progress: bool = False) -> dict:
    """Recall of the DP's placements on the log-softmax of ``scores_of(task, video) -> (T, K)`` over the
    test videos: ``{"per_task": {task: recall %}, "recall": mean over tasks, "videos_without_annotations":
    [...]}`` (``crosstask_recall``); a video without an annotation file is skipped and logged."""
    per_video, unannotated = [], []
    pairs = [(task_id, video_id) for task_id, videos in test.items() for video_id in videos]
    for task_id, video_id in tqdm(pairs, desc="crosstask videos", disable=not progress):
        if not crosstask.annotation_path(task_id, video_id).is_file():
            logger.warning("CrossTask video '%s' of task '%s' has no annotation file %s: skipped, as the "
                           "official evaluation does", video_id, task_id, crosstask.annotation_path(task_id, video_id))
            unannotated.append(video_id)
            continue
        num_steps = len(crosstask.tasks[task_id].steps)
        scores = np.asarray(scores_of(task_id, video_id))
        if scores.ndim != 2 or scores.shape[1] != num_steps:
            raise ValueError(f"scores of video '{video_id}' have shape {scores.shape}, task '{task_id}' "
                             f"has {num_steps} steps")
        truth = ground_truth_matrix(crosstask.annotations(task_id, video_id), len(scores), num_steps)
        placement = step_localization_dp(step_log_probabilities(scores))
        per_video.append((task_id, *video_hits(placement, truth)))
    return {**crosstask_recall(per_video), "videos_without_annotations": unannotated}


def evaluate_crosstask(run_dir: str | Path, root: str | Path, features: str | None = None, seed: int = 0,
                       train_per_task: int = TRAIN_PER_TASK, out: str | Path | None = None,
                       track: bool = False, progress: bool = False) -> dict:
    """Step localization recall of the run's best.pt on the CrossTask release at ``root``.

    ``features`` is the feature spec (the run's ``data.features`` when None). Writes ``out``
    (recall per task, mean recall, seed, the test videos) atomically and logs MLflow job "crosstask".
    """
    settings = {"task": "crosstask", "root": str(root), "seed": seed, "train_per_task": train_per_task,
                "score": "early"}

    def compute(cfg, model):
        crosstask = load_crosstask(Path(root))
        _, test = draw_split(crosstask, seed, train_per_task)
        if not test:
            raise ValueError(f"no primary task of '{root}' has more than {train_per_task} videos outside "
                             f"videos_val.csv, so none has a test video: lower train_per_task")
        store = FeatureStore(root, features or cfg.data.features)
        captions = sorted({step for task_id in test for step in crosstask.tasks[task_id].steps})
        embedded = dict(zip(captions, text_embeddings(model, cfg, captions, progress)))

        def scores_of(task_id: str, video_id: str) -> np.ndarray:
            steps = torch.stack([embedded[step] for step in crosstask.tasks[task_id].steps])
            return frame_step_scores(model, per_second_features(store, video_id), steps, cfg.data.max_video_tokens)

        recall = localization_recall(crosstask, test, scores_of, progress)
        result = {**recall, "features": "+".join(store.types), "test_videos": test,
                  "num_test_videos": sum(map(len, test.values())) - len(recall["videos_without_annotations"]),
                  "num_tasks": len(test),
                  "tasks_without_test_videos": sorted(set(crosstask.tasks) - set(test))}
        metrics = {"recall": recall["recall"], **{f"recall/{t}": r for t, r in recall["per_task"].items()}}
        return result, metrics

    return tracked_job("crosstask", run_dir, settings, compute, out=out, track=track)
