"""One writer per release format (docs/data_formats.md): the synthetic datasets' annotation files, byte for byte
deterministic, each written whole or not at all (a temporary file in the same folder, then os.replace).

The writers take plain records and check what the format requires (subsets, segment bounds, step
numbers); a violation raises ValueError naming the file and the video.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from taco.atomic import write_text
from taco.data.synthetic.vocabulary import STOP_WORDS

YOUTUBE_URL = "https://www.youtube.com/watch?v={}"




def write_json(path: Path, value: object) -> None:
    write_text(path, json.dumps(value, ensure_ascii=False))


def write_csv(path: Path, rows: list[tuple], header: tuple[str, ...] | None = None) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def _check_segment(start: float, end: float, duration: float, path: Path, item: str) -> None:
    if not 0 <= start < end <= duration + 1e-6:
        raise ValueError(f"{path}: {item}: segment [{start}, {end}] is not inside [0, {duration}]")


def _check_subset(subset: str, allowed: tuple[str, ...], path: Path, item: str) -> None:
    if subset not in allowed:
        raise ValueError(f"{path}: {item}: subset '{subset}' is not one of {allowed}")


# --- YouCook2 ------------------------------------------------------------------------------------

YOUCOOK2_FILE = "youcookii_annotations_trainval.json"


@dataclass(frozen=True)
class YouCook2Video:
    video_id: str
    duration: float
    recipe_type: str
    subset: str  # "training" | "validation"
    segments: tuple[tuple[int, int, str], ...]  # (start, end, sentence), integer seconds


def write_youcook2(root: Path, videos: list[YouCook2Video]) -> None:
    """``youcookii_annotations_trainval.json``: {"database": {vid: {annotations, duration, recipe_type,
    subset, video_url}}}, one caption per clip."""
    path = Path(root) / YOUCOOK2_FILE
    database = {}
    for video in videos:
        item = f"video '{video.video_id}'"
        _check_subset(video.subset, ("training", "validation"), path, item)
        annotations = []
        for index, (start, end, sentence) in enumerate(video.segments):
            _check_segment(start, end, video.duration, path, f"{item} segment {index}")
            annotations.append({"id": index, "segment": [start, end], "sentence": sentence})
        database[video.video_id] = {
            "annotations": annotations, "duration": video.duration, "recipe_type": video.recipe_type,
            "subset": video.subset, "video_url": YOUTUBE_URL.format(video.video_id),
        }
    write_json(path, {"database": database})


# --- MSR-VTT -------------------------------------------------------------------------------------

MSRVTT_DATA_FILE = "MSRVTT_data.json"
MSRVTT_TRAIN_FILES = {"9k": "MSRVTT_train.9k.csv", "7k": "MSRVTT_train.7k.csv"}
MSRVTT_TEST_FILE = "MSRVTT_JSFUSION_test.csv"
MSRVTT_TEST_HEADER = ("key", "vid_key", "video_id", "sentence")


@dataclass(frozen=True)
class MsrvttVideo:
    number: int  # the N of "videoN"
    category: int
    source_id: str  # YouTube id of the source video the clip was cut from
    start_time: float
    end_time: float
    split: str  # "train" | "validate" | "test"
    captions: tuple[str, ...]

    @property
    def video_id(self) -> str:
        return f"video{self.number}"


def write_msrvtt(root: Path, videos: list[MsrvttVideo], train_9k: list[str], train_7k: list[str],
                 jsfusion_test: list[tuple[str, str]]) -> None:
    """``MSRVTT_data.json``, the 9k and 7k training lists (column ``video_id``) and the JSFusion test
    csv (``key,vid_key,video_id,sentence``, one caption per test video)."""
    root = Path(root)
    path = root / MSRVTT_DATA_FILE
    numbers = {video.video_id: video.number for video in videos}
    entries, sentences = [], []
    for video in videos:
        _check_subset(video.split, ("train", "validate", "test"), path, f"video '{video.video_id}'")
        entries.append({"category": video.category, "url": YOUTUBE_URL.format(video.source_id),
                        "video_id": video.video_id, "start time": video.start_time,
                        "end time": video.end_time, "split": video.split, "id": video.number})
        for caption in video.captions:
            sentences.append({"caption": caption, "video_id": video.video_id, "sen_id": len(sentences)})
    test_path = root / MSRVTT_TEST_FILE
    nine = set(train_9k)
    for video_id, _ in jsfusion_test:
        if video_id not in numbers:
            raise ValueError(f"{test_path}: test video '{video_id}' is not among the videos of {path}")
        if video_id in nine:
            raise ValueError(f"{test_path}: test video '{video_id}' is also in {MSRVTT_TRAIN_FILES['9k']}")
    if not set(train_7k) <= nine:
        raise ValueError(f"{root / MSRVTT_TRAIN_FILES['7k']}: must be a subset of {MSRVTT_TRAIN_FILES['9k']}")
    info = {"contributor": "synthetic world", "data_created": "2016-04-01 12:00:00", "version": "1.0",
            "description": "synthetic MSR-VTT-like release", "year": "2016"}
    write_json(path, {"info": info, "videos": entries, "sentences": sentences})
    for name, ids in (("9k", train_9k), ("7k", train_7k)):
        write_csv(root / MSRVTT_TRAIN_FILES[name], [(video_id,) for video_id in ids], header=("video_id",))
    rows = [(f"ret{i}", f"msr{numbers[video_id]}", video_id, sentence)
            for i, (video_id, sentence) in enumerate(jsfusion_test)]
    write_csv(test_path, rows, header=MSRVTT_TEST_HEADER)


# --- ActivityNet Captions -----------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityNetVideo:
    video_id: str  # with the "v_" prefix
    duration: float
    timestamps: tuple[tuple[float, float], ...]
    sentences: tuple[str, ...]


def write_activitynet(root: Path, train: list[ActivityNetVideo], val_1: list[ActivityNetVideo],
                      val_2: list[ActivityNetVideo]) -> None:
    """``train.json``, ``val_1.json``, ``val_2.json`` ({"v_<id>": {duration, timestamps, sentences}})
    and the id lists ``train_ids.json`` / ``val_ids.json``."""
    root = Path(root)
    contents = {}
    for name, videos in (("train.json", train), ("val_1.json", val_1), ("val_2.json", val_2)):
        path = root / name
        content = contents[name] = {}
        for video in videos:
            item = f"video '{video.video_id}'"
            if not video.video_id.startswith("v_"):
                raise ValueError(f"{path}: {item}: ActivityNet ids start with 'v_'")
            if len(video.timestamps) != len(video.sentences):
                raise ValueError(f"{path}: {item}: {len(video.timestamps)} timestamps but "
                                 f"{len(video.sentences)} sentences")
            for index, (start, end) in enumerate(video.timestamps):
                _check_segment(start, end, video.duration, path, f"{item} event {index}")
            content[video.video_id] = {"duration": video.duration,
                                       "timestamps": [list(span) for span in video.timestamps],
                                       "sentences": list(video.sentences)}
    for name, content in contents.items():
        write_json(root / name, content)
    write_json(root / "train_ids.json", [video.video_id for video in train])
    write_json(root / "val_ids.json", [video.video_id for video in val_1])


# --- HowTo100M ------------------------------------------------------------------------------------

HOWTO_INDEX_HEADER = ("video_id", "category_1", "category_2", "rank", "task_id")


@dataclass(frozen=True)
class HowToVideo:
    video_id: str
    category_1: str
    category_2: str
    rank: int
    task_id: int
    duration: float
    segments: tuple[tuple[float, float, str], ...]  # ASR fragments (start, end, text) in time order


def without_stop_words(text: str) -> str:
    """``caption.json``'s text: the raw narration without its stop words."""
    return " ".join(word for word in text.split() if word not in STOP_WORDS)


def write_howto100m(root: Path, videos: list[HowToVideo]) -> None:
    """``raw_caption.json`` and ``caption.json`` ({vid: {"text", "start", "end"}}, aligned entry by
    entry; the latter without stop words) and ``HowTo100M_v1.csv``."""
    root = Path(root)
    raw, clean = {}, {}
    for video in videos:
        item = f"video '{video.video_id}'"
        previous_start = 0.0
        for index, (start, end, text) in enumerate(video.segments):
            _check_segment(start, end, video.duration, root / "raw_caption.json", f"{item} caption {index}")
            if start < previous_start or not without_stop_words(text):
                raise ValueError(f"{root / 'caption.json'}: {item} caption {index}: out of time order or only "
                                 f"stop words ({text!r})")
            previous_start = start
        starts = [s for s, _, _ in video.segments]
        ends = [e for _, e, _ in video.segments]
        raw[video.video_id] = {"text": [t for _, _, t in video.segments], "start": starts, "end": ends}
        clean[video.video_id] = {"text": [without_stop_words(t) for _, _, t in video.segments],
                                 "start": starts, "end": ends}
    write_json(root / "raw_caption.json", raw)
    write_json(root / "caption.json", clean)
    rows = [(v.video_id, v.category_1, v.category_2, v.rank, v.task_id) for v in videos]
    write_csv(root / "HowTo100M_v1.csv", rows, header=HOWTO_INDEX_HEADER)


# --- CrossTask -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossTaskTask:
    task_id: int
    title: str
    url: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class CrossTaskVideo:
    task_id: int
    video_id: str
    duration: float
    validation: bool  # listed in videos_val.csv
    annotations: tuple[tuple[int, float, float], ...]  # (step 1-based, start, end)


def write_crosstask(root: Path, tasks: list[CrossTaskTask], videos: list[CrossTaskVideo]) -> None:
    """``tasks_primary.txt`` (id / title / url / number of steps / steps / blank line), ``videos.csv``
    (every video) and ``videos_val.csv`` (rows ``task,vid,url``, no header), and
    ``annotations/<task>_<vid>.csv`` (rows ``step,start,end``, no header)."""
    root = Path(root)
    blocks = []
    for task in tasks:
        for step in task.steps:
            if "," in step:
                raise ValueError(f"{root / 'tasks_primary.txt'}: task {task.task_id}: step '{step}' holds a comma")
        blocks.append(f"{task.task_id}\n{task.title}\n{task.url}\n{len(task.steps)}\n{','.join(task.steps)}\n\n")
    steps_of = {task.task_id: len(task.steps) for task in tasks}
    for video in videos:
        path = root / "annotations" / f"{video.task_id}_{video.video_id}.csv"
        if video.task_id not in steps_of:
            raise ValueError(f"{path}: task {video.task_id} is not a primary task")
        for step, start, end in video.annotations:
            if not 1 <= step <= steps_of[video.task_id]:
                raise ValueError(f"{path}: step {step} outside 1..{steps_of[video.task_id]}")
            _check_segment(start, end, video.duration, path, f"video '{video.video_id}' step {step}")
    write_text(root / "tasks_primary.txt", "".join(blocks))
    for video in videos:
        write_csv(root / "annotations" / f"{video.task_id}_{video.video_id}.csv",
                  [(step, f"{start:.2f}", f"{end:.2f}") for step, start, end in video.annotations])
    rows = [(v.task_id, v.video_id, YOUTUBE_URL.format(v.video_id)) for v in videos]
    write_csv(root / "videos.csv", rows)
    write_csv(root / "videos_val.csv", [row for row, v in zip(rows, videos) if v.validation])


# --- COIN ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoinVideo:
    video_id: str
    duration: float
    class_name: str
    recipe_type: int
    subset: str  # "training" | "testing"
    annotation: tuple[tuple[str, float, float, str], ...]  # (step id as a string, start, end, label)


def write_coin(root: Path, videos: list[CoinVideo]) -> None:
    """``COIN.json``: {"database": {vid: {duration, class, video_url, start, end, subset, recipe_type,
    annotation: [{"id": "<step>", "segment": [s, e], "label"}]}}}; ``start``/``end`` bound the task's steps."""
    path = Path(root) / "COIN.json"
    database = {}
    for video in videos:
        item = f"video '{video.video_id}'"
        _check_subset(video.subset, ("training", "testing"), path, item)
        annotation = []
        for step_id, start, end, label in video.annotation:
            if not step_id.isdigit() or step_id == "0":
                raise ValueError(f"{path}: {item}: step id {step_id!r} must be a positive integer string")
            _check_segment(start, end, video.duration, path, f"{item} step {step_id}")
            annotation.append({"id": step_id, "segment": [start, end], "label": label})
        database[video.video_id] = {
            "duration": video.duration, "class": video.class_name, "video_url": YOUTUBE_URL.format(video.video_id),
            "start": annotation[0]["segment"][0], "end": annotation[-1]["segment"][1], "subset": video.subset,
            "recipe_type": video.recipe_type, "annotation": annotation,
        }
    write_json(path, {"database": database})
