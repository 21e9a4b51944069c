"""Files that appear whole or not at all: write to a temporary file in the same folder, then rename."""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; it replaces ``path`` if the block succeeds and
    is removed otherwise, so a crash or a kill never leaves a half-written ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 text with the newlines as given (no platform translation)."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data, **dump_options) -> None:
    write_text(path, json.dumps(data, **dump_options) + "\n")
