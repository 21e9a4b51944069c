"""Reading a run's JSON-lines logs (``train_log.jsonl``: an entry per training step, ``val_log.jsonl``: an
entry per validation), for the trainer's tracking and the reports alike. Blank lines are skipped; a line
that is not JSON, a torn last line included, is an error naming the file and the line."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TRAIN_ENTRY = "a training log entry with step and loss"


class RunLogError(ValueError):
    """A line of a run log that its reader cannot use; the message names the file and the line."""


def log_entries(path: Path, expected: str = "JSON", error: type[ValueError] = RunLogError) -> Iterator[tuple[int, Any]]:
    """(line number, counted from 1 in the file, and its decoded JSON) of every non-blank line of ``path``,
    in file order. A line that is not JSON raises ``error`` (``'<path>' line <n> is not <expected>: ...``),
    the JSON error as its cause."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"'{path}' line {number} is not {expected}: {err}") from err
        yield number, entry


def train_losses(path: Path, error: type[ValueError] = RunLogError) -> dict[int, float]:
    """step -> loss of a run's ``train_log.jsonl`` (a step logged again keeps its last loss); every entry
    must have a step and a loss, else ``error`` names the file and the line."""
    losses = {}
    for number, entry in log_entries(path, TRAIN_ENTRY, error):
        try:
            losses[int(entry["step"])] = float(entry["loss"])
        except (KeyError, TypeError, ValueError) as err:
            raise error(f"'{path}' line {number} is not {TRAIN_ENTRY}: {err}") from err
    return losses


def logged_series(path: Path, key: str) -> tuple[list, list]:
    """(steps, values) of the entries of a log that have ``key``, in file order, as logged; empty lists
    when the log does not exist."""
    if not path.is_file():
        return [], []
    entries = [entry for _, entry in log_entries(path)]
    entries = [entry for entry in entries if key in entry]
    return [entry["step"] for entry in entries], [entry[key] for entry in entries]
