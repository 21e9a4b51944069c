"""On-disk cache of frozen text-encoder features, keyed by model weights and caption.

The folder name is a digest of the text model's files (config, vocabulary and the full weight
bytes) and the token limit; rows are keyed by a digest of the caption. A changed model or limit
therefore lands in a new folder, and a caption is never served features of another text.
Shards are written atomically, so parallel jobs can share a cache.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import uuid
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from taco.atomic import atomic_path, write_json
from taco.model.text_encoder import resolve_text_model


@functools.lru_cache(maxsize=8)
def model_digest(text_model: str) -> str:
    path = Path(resolve_text_model(text_model))
    digest = hashlib.sha1()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
    if not files:
        digest.update(text_model.encode())
    for file in files:
        digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def caption_key(caption: str) -> str:
    return hashlib.sha1(caption.encode("utf-8")).hexdigest()


class TextFeatureCache:
    def __init__(self, cache_dir: str | Path, text_model: str, max_length: int):
        self.text_model = text_model
        key = hashlib.sha1(f"{model_digest(text_model)}:{max_length}".encode()).hexdigest()[:16]
        self.folder = Path(cache_dir) / "text" / key
        self.max_length = max_length
        self._shards: list[np.ndarray] = []
        self._index: dict[str, tuple[int, int]] = {}
        self._open_shards()

    def _open_shards(self) -> None:
        if not self.folder.is_dir():
            return
        for meta in sorted(self.folder.glob("shard_*.json")):
            data = meta.with_suffix(".npy")
            if not data.is_file():
                continue
            keys = json.loads(meta.read_text())
            shard = len(self._shards)
            self._shards.append(np.load(data, mmap_mode="r"))
            for row, k in enumerate(keys):
                self._index.setdefault(k, (shard, row))

    @property
    def width(self) -> int:
        """H, the width of the cached features (0 while the cache is empty)."""
        return self._shards[0].shape[-1] if self._shards else 0

    def __contains__(self, caption: str) -> bool:
        return caption_key(caption) in self._index

    def add(self, captions: list[str], input_ids: np.ndarray, attention_mask: np.ndarray,
            batch_size: int = 128, progress: bool = True) -> int:
        """Encode the captions not yet cached; ``input_ids`` are their padded wordpiece ids. Returns #new."""
        todo, seen = [], set()
        for i, caption in enumerate(captions):
            k = caption_key(caption)
            if k not in self._index and k not in seen:
                seen.add(k)
                todo.append(i)
        if not todo:
            return 0
        from transformers import AutoModel

        model = AutoModel.from_pretrained(resolve_text_model(self.text_model)).eval()
        lengths = np.asarray(attention_mask).sum(1)
        # Batches of one length each, so no caption is padded: its features are then the same bytes
        # whichever captions share its batch, i.e. whatever the cache held before (job order).
        todo.sort(key=lambda i: (lengths[i], i))
        batches = []
        for _, same in itertools.groupby(todo, key=lambda i: lengths[i]):
            same = list(same)
            batches += [same[start:start + batch_size] for start in range(0, len(same), batch_size)]
        features = np.zeros((len(todo), max(self.max_length, input_ids.shape[1]), model.config.hidden_size),
                            dtype=np.float16)
        start = 0
        with torch.no_grad():
            for rows in tqdm(batches, desc="text features", disable=not progress):
                length = max(int(lengths[rows].max()), 1)
                ids = torch.as_tensor(input_ids[rows, :length], dtype=torch.long)
                mask = torch.as_tensor(attention_mask[rows, :length], dtype=torch.long)
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                features[start:start + len(rows), :length] = (hidden * mask.unsqueeze(-1)).to(torch.float16).numpy()
                start += len(rows)
        self._write_shard([caption_key(captions[i]) for i in todo], features)
        return len(todo)

    def _write_shard(self, keys: list[str], features: np.ndarray) -> None:
        name = f"shard_{uuid.uuid4().hex[:12]}"
        with atomic_path(self.folder / f"{name}.npy") as temporary, open(temporary, "wb") as fh:
            np.save(fh, features)
        write_json(self.folder / f"{name}.json", keys)  # written last: it marks the shard complete
        shard = len(self._shards)
        self._shards.append(np.load(self.folder / f"{name}.npy", mmap_mode="r"))
        for row, k in enumerate(keys):
            self._index.setdefault(k, (shard, row))

    def rows(self, caption: str, length: int) -> np.ndarray:
        """(length, H) stored (float16) features of one added caption, read from its shard."""
        try:
            shard, row = self._index[caption_key(caption)]
        except KeyError:
            raise KeyError(f"caption not in the text cache {self.folder}: {caption[:80]!r}") from None
        return self._shards[shard][row, :length]

    def get(self, captions: list[str], length: int) -> np.ndarray:
        """(len(captions), length, H) float32 features; every caption must have been added."""
        return np.asarray([self.rows(caption, length) for caption in captions], dtype=np.float32)
