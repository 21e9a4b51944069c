"""Checkpoint files (best.pt, checkpoint.pt): saved byte-deterministically, loaded without running code.

``save`` serialises into memory (the zip archive then has torch's fixed record name, not the name of
a random temporary file) and writes the bytes atomically: the same contents give the same bytes and
sha256 wherever they are saved. ``load`` uses ``torch.load(weights_only=True)``, which refuses any
pickled callable before it runs, so a shared checkpoint can hold only tensors and plain values; every
error names the file.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path

import torch

from taco.atomic import write_bytes


class CheckpointError(ValueError):
    """A checkpoint file that is refused, unreadable or lacks a required entry."""


def save(contents: dict, path: str | Path) -> None:
    """Write ``contents`` (tensors and plain values) to ``path`` atomically, deterministic bytes."""
    buffer = io.BytesIO()
    torch.save(contents, buffer)
    write_bytes(path, buffer.getvalue())


def load(path: str | Path, required: Iterable[str] = (), map_location="cpu") -> dict:
    """The dict saved in ``path``, loaded with ``weights_only=True``; raises CheckpointError naming the
    file when it is refused (it would run code), unreadable, not a dict or lacks a ``required`` key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint '{path}' does not exist")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"checkpoint '{path}' refused: it holds more than tensors and plain values "
                              f"and loading it could run code ({reason})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"checkpoint '{path}' is not a readable torch checkpoint ({error})") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(saved).__name__}, not a dict of entries")
    missing = [key for key in required if key not in saved]
    if missing:
        raise CheckpointError(f"checkpoint '{path}' has no '{missing[0]}': expected a run's {path.name} "
                              f"with {', '.join(repr(key) for key in required)}")
    return saved
