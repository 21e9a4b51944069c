"""CrossTask (action step localization, section 4.5): primary tasks, video lists and step annotations.

Release layout: ``tasks_primary.txt`` (blocks of id / title / url / number of steps /
comma-separated steps / blank line), ``videos.csv`` and ``videos_val.csv`` (rows
``task,vid,url``, no header) and ``annotations/<task>_<vid>.csv`` (rows ``step,start,end``, step
1-based, seconds, no header).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taco.data.annotation_io import AnnotationError, read_csv_rows, require_file, segment
from taco.data.records import Clip

TASKS_FILE = "tasks_primary.txt"
VIDEOS_FILE = "videos.csv"
VAL_VIDEOS_FILE = "videos_val.csv"
ANNOTATION_DIR = "annotations"
_BLOCK_FIELDS = ("task id", "title", "url", "number of steps", "steps")


@dataclass(frozen=True)
class Task:
    """One primary task: its ordered step descriptions (step ``k`` is ``steps[k - 1]``)."""

    task_id: str
    title: str
    url: str
    steps: list[str]


@dataclass(frozen=True)
class CrossTask:
    """The release's primary tasks and video lists; step annotations are read on demand."""

    root: Path
    tasks: dict[str, Task]
    videos: list[tuple[str, str]]  # (task_id, video_id) rows of videos.csv
    val_videos: list[tuple[str, str]]  # (task_id, video_id) rows of videos_val.csv

    def annotation_path(self, task_id: str, video_id: str) -> Path:
        return self.root / ANNOTATION_DIR / f"{task_id}_{video_id}.csv"

    def annotations(self, task_id: str, video_id: str) -> list[tuple[int, float, float]]:
        """``(step, start, end)`` rows of ``annotations/<task>_<vid>.csv`` (step 1-based, seconds)."""
        path = require_file(self.annotation_path(task_id, video_id))
        n_steps = len(self.tasks[task_id].steps) if task_id in self.tasks else None
        rows = []
        for line, (step, start, end) in read_csv_rows(path, columns=3):
            item = f"line {line}"
            try:
                step_number = int(step)
            except ValueError:
                raise AnnotationError(f"{path}: {item}: step must be an integer, got {step!r}") from None
            if step_number < 1 or (n_steps is not None and step_number > n_steps):
                raise AnnotationError(f"{path}: {item}: step {step_number} outside 1..{n_steps} of task '{task_id}'")
            rows.append((step_number, *segment(start, end, path, item)))
        return rows


def _read_tasks(path: Path) -> dict[str, Task]:
    lines = require_file(path).read_text(encoding="utf-8").splitlines()
    tasks: dict[str, Task] = {}
    first = 0
    while first < len(lines):
        if not lines[first].strip():
            first += 1
            continue
        block = [line.strip() for line in lines[first:first + len(_BLOCK_FIELDS)]]
        for offset, name in enumerate(_BLOCK_FIELDS):
            if offset >= len(block) or not block[offset]:
                raise AnnotationError(f"{path}: line {first + offset + 1}: expected the task's {name}, got a blank line or end of file")
        task_id, title, url, count, steps_line = block
        try:
            n_steps = int(count)
        except ValueError:
            raise AnnotationError(f"{path}: line {first + 4}: number of steps must be an integer, got {count!r}") from None
        steps = [step.strip() for step in steps_line.split(",")]
        if len(steps) != n_steps:
            raise AnnotationError(f"{path}: line {first + 5}: task '{task_id}' declares {n_steps} steps but lists {len(steps)}")
        if task_id in tasks:
            raise AnnotationError(f"{path}: line {first + 1}: task '{task_id}' is defined twice")
        tasks[task_id] = Task(task_id, title, url, steps)
        first += len(_BLOCK_FIELDS)
    return tasks


def _read_videos(path: Path) -> list[tuple[str, str]]:
    return [(task_id, video_id) for _, (task_id, video_id, _url) in read_csv_rows(path, columns=3)]


def load_crosstask(root: Path) -> CrossTask:
    """Parse the release at ``root``; errors name the file and the line."""
    root = Path(root)
    return CrossTask(
        root=root,
        tasks=_read_tasks(root / TASKS_FILE),
        videos=_read_videos(root / VIDEOS_FILE),
        val_videos=_read_videos(root / VAL_VIDEOS_FILE),
    )


def crosstask_clips(crosstask: CrossTask) -> list[Clip]:
    """One Clip per annotated step of every primary-task video (text = the step description).

    Videos of ``videos_val.csv`` get split "train", all others "test"; videos of tasks that are
    not primary (no annotations in the release) are skipped.
    """
    val = set(crosstask.val_videos)
    pairs = list(dict.fromkeys(crosstask.videos + crosstask.val_videos))  # ordered, without duplicates
    clips = []
    for task_id, video_id in pairs:
        if task_id not in crosstask.tasks:
            continue
        split = "train" if (task_id, video_id) in val else "test"
        steps = crosstask.tasks[task_id].steps
        for step, start, end in crosstask.annotations(task_id, video_id):
            clips.append(Clip(video_id=video_id, start=start, end=end, text=steps[step - 1], split=split))
    return clips
