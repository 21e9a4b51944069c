"""Reading release annotation files with errors that name the file, the item and the key.

Shared by every dataset loader in ``taco.data``: JSON and CSV reading, required keys, and the
checks every clip passes (numeric times, ``0 <= start <= end``).
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from taco.data.records import SPLITS, Clip


class AnnotationError(ValueError):
    """A release file does not follow its published format; the message names file, item and key."""


def require_file(path: Path) -> Path:
    """``path`` if it is an existing file, else FileNotFoundError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file '{path}' does not exist")
    return path


def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing file or invalid JSON raises an error naming the file."""
    path = require_file(path)
    with open(path, encoding="utf-8") as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def field(record: Any, key: str, path: Path, item: str, expected: type | None = None) -> Any:
    """``record[key]``, or an AnnotationError naming the file, the item and the missing key.

    With ``expected`` (e.g. ``dict`` or ``list``), a value of another type is an error too.
    """
    if not isinstance(record, Mapping):
        raise AnnotationError(f"{path}: {item} must be a JSON object, got {type(record).__name__}")
    if key not in record:
        raise AnnotationError(f"{path}: {item} has no key '{key}'")
    value = record[key]
    if expected is not None and not isinstance(value, expected):
        raise AnnotationError(f"{path}: {item}: '{key}' must be a {expected.__name__}, got {type(value).__name__}")
    return value


def subset_split(record: Any, subsets: Mapping[str, str], path: Path, item: str) -> str:
    """The split of a record's ``"subset"`` value under ``subsets`` (release name -> split)."""
    subset = field(record, "subset", path, item)
    if subset not in subsets:
        raise AnnotationError(f"{path}: {item}: unknown subset {subset!r} (expected one of {sorted(subsets)})")
    return subsets[subset]


def seconds(value: Any, path: Path, item: str, what: str) -> float:
    """A finite time in seconds (int, float or numeric string), else an error naming the item."""
    if isinstance(value, bool):
        raise AnnotationError(f"{path}: {item}: {what} must be a number of seconds, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: {item}: {what} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(result):
        raise AnnotationError(f"{path}: {item}: {what} must be finite, got {value!r}")
    return result


def segment(start: Any, end: Any, path: Path, item: str) -> tuple[float, float]:
    """A validated ``(start, end)`` in seconds: numeric, ``0 <= start <= end``."""
    start_s = seconds(start, path, item, "start")
    end_s = seconds(end, path, item, "end")
    if start_s < 0:
        raise AnnotationError(f"{path}: {item}: negative start {start_s}")
    if end_s < start_s:
        raise AnnotationError(f"{path}: {item}: end {end_s} is before start {start_s}")
    return start_s, end_s


def make_clip(video_id: str, start: Any, end: Any, text: Any, split: str, path: Path, item: str) -> Clip:
    """A validated Clip: a valid segment, string text, split in SPLITS."""
    start_s, end_s = segment(start, end, path, item)
    if not isinstance(text, str):
        raise AnnotationError(f"{path}: {item}: text must be a string, got {type(text).__name__}")
    if split not in SPLITS:
        raise AnnotationError(f"{path}: {item}: split '{split}' is not one of {SPLITS}")
    return Clip(video_id=str(video_id), start=start_s, end=end_s, text=text, split=split)


def segment_field(record: Any, path: Path, item: str) -> tuple[float, float]:
    """A record's validated ``"segment": [start, end]``."""
    bounds = field(record, "segment", path, item, list)
    if len(bounds) != 2:
        raise AnnotationError(f"{path}: {item}: segment must be [start, end], got {bounds!r}")
    return segment(bounds[0], bounds[1], path, item)


def read_csv_rows(path: Path, columns: int, header: tuple[str, ...] | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, row)`` of a CSV file whose rows all have ``columns`` fields.

    When ``header`` is given the first row must equal it and is skipped; blank lines are skipped.
    """
    path = require_file(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        if header is not None:
            first = next(reader, None)
            if first is None or tuple(cell.strip() for cell in first) != header:
                raise AnnotationError(f"{path}: line 1: expected header {','.join(header)}, got {first}")
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != columns:
                raise AnnotationError(
                    f"{path}: line {reader.line_num}: expected {columns} comma-separated fields, got {len(row)}"
                )
            yield reader.line_num, [cell.strip() for cell in row]
