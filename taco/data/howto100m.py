"""HowTo100M narrations (pretraining, section 4.3): ASR clips merged until the text has enough words.

``raw_caption.json`` keeps stop words, ``caption.json`` drops them; both are
``{video_id: {"text": [...], "start": [...], "end": [...]}}`` in seconds. ``HowTo100M_v1.csv``
(``video_id,category_1,category_2,rank,task_id``), when present, restricts the videos to those it
lists; ``read_howto100m_index`` gives its categories and task ids.

Merging (the paper: "we merge the adjacent clips so that the resulted text has at least 10 words"):
a video's clips are taken in time order and accumulated greedily until the merged text has at
least ``min_words`` whitespace-separated words; the merged clip spans the first start to the latest
end, and its text is those words joined by single spaces. A trailing remainder with fewer than
``min_words`` words is merged into the previous clip; a video whose whole narration has fewer
than ``min_words`` words yields no clip. (UniVL instead grows windows toward the shorter side
until both a word and a duration minimum hold; the paper states only the word rule.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taco.data.annotation_io import AnnotationError, field, make_clip, read_csv_rows, read_json
from taco.data.records import Clip

RAW_CAPTION_FILE = "raw_caption.json"
CAPTION_FILE = "caption.json"
INDEX_FILE = "HowTo100M_v1.csv"
INDEX_HEADER = ("video_id", "category_1", "category_2", "rank", "task_id")


@dataclass(frozen=True)
class HowToVideo:
    """One row of ``HowTo100M_v1.csv``."""

    video_id: str
    category_1: str
    category_2: str
    rank: int
    task_id: int


def read_howto100m_index(path: Path) -> dict[str, HowToVideo]:
    """Rows of ``HowTo100M_v1.csv`` by video id; bad integers raise an error naming the line."""
    index = {}
    for line, (video_id, category_1, category_2, rank, task_id) in read_csv_rows(path, len(INDEX_HEADER), INDEX_HEADER):
        try:
            index[video_id] = HowToVideo(video_id, category_1, category_2, int(rank), int(task_id))
        except ValueError:
            raise AnnotationError(f"{path}: line {line}: rank and task_id must be integers, got {rank!r}, {task_id!r}") from None
    return index


def _narrations(video_id: str, captions: dict, path: Path) -> list[Clip]:
    """A video's validated narration clips in time order (by start, then end)."""
    item = f"video '{video_id}'"
    texts, starts, ends = (field(captions, key, path, item) for key in ("text", "start", "end"))
    if not all(isinstance(values, list) for values in (texts, starts, ends)) or not len(texts) == len(starts) == len(ends):
        raise AnnotationError(f"{path}: {item}: text/start/end must be lists of equal length")
    narrations = [
        make_clip(video_id, start, end, text, "train", path, f"{item} clip {index}")
        for index, (text, start, end) in enumerate(zip(texts, starts, ends))
    ]
    return sorted(narrations, key=lambda clip: (clip.start, clip.end))


def merge_narrations(narrations: list[Clip], min_words: int) -> list[list[Clip]]:
    """Greedy groups of consecutive narrations with at least ``min_words`` words each (see module doc)."""
    groups: list[list[Clip]] = []
    current: list[Clip] = []
    words = 0
    for narration in narrations:
        current.append(narration)
        words += len(narration.text.split())
        if words >= min_words:
            groups.append(current)
            current, words = [], 0
    if current and groups:
        groups[-1].extend(current)
    return groups


def load_howto100m(root: Path, min_words: int = 10, raw: bool = True) -> list[Clip]:
    """Merged narration clips of every captioned video (restricted to ``HowTo100M_v1.csv`` when present)."""
    if min_words < 1:
        raise ValueError(f"min_words must be >= 1, got {min_words}")
    root = Path(root)
    path = root / (RAW_CAPTION_FILE if raw else CAPTION_FILE)
    captions = read_json(path)
    if not isinstance(captions, dict):
        raise AnnotationError(f"{path}: expected a JSON object keyed by video id")
    index_path = root / INDEX_FILE
    listed = read_howto100m_index(index_path) if index_path.is_file() else None
    clips = []
    for video_id, video_captions in captions.items():
        if listed is not None and video_id not in listed:
            continue
        for number, group in enumerate(merge_narrations(_narrations(video_id, video_captions, path), min_words)):
            text = " ".join(word for narration in group for word in narration.text.split())
            end = max(narration.end for narration in group)
            clips.append(make_clip(video_id, group[0].start, end, text, "train", path, f"video '{video_id}' merged clip {number}"))
    return clips
