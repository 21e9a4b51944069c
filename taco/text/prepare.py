"""Captions of a dataset -> wordpiece ids, masks and token-of-interest weights, cached on disk.

IDF (Eq. 7) is fitted on the training captions only; the same table weighs every split.
The cache key covers the captions of every split, the token type, the tokenizer and the
token limit, so a cached table is never stale.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from taco.atomic import atomic_path, write_json
from taco.model.text_cache import model_digest
from taco.model.text_encoder import load_tokenizer
from taco.text.idf import idf_table
from taco.text.pos import Word, tag_captions
from taco.text.token_weights import build_token_weights


@dataclass
class TextTable:
    """Fixed-width (N, L) arrays of one split's captions, row i = caption i."""

    captions: list[str]
    input_ids: np.ndarray       # int64
    attention_mask: np.ndarray  # bool
    weights: np.ndarray         # float32, zero outside tokens of interest


def _table(captions, tokenized, max_length) -> TextTable:
    n = len(captions)
    ids = np.zeros((n, max_length), np.int64)
    mask = np.zeros((n, max_length), bool)
    weights = np.zeros((n, max_length), np.float32)
    for i, item in enumerate(tokenized):
        length = len(item.input_ids)
        ids[i, :length] = item.input_ids
        mask[i, :length] = True
        weights[i, :length] = item.weights
    return TextTable(list(captions), ids, mask, weights)


def prepare_text(splits: dict[str, list[str]], token_type: str, text_model: str, max_length: int,
                 cache_dir: str | Path, progress: bool = False) -> tuple[dict[str, float], dict[str, TextTable]]:
    """IDF table fitted on ``splits['train']`` and a TextTable per split (cached under cache_dir/tokens)."""
    payload = json.dumps({"splits": splits, "token_type": token_type, "max_length": max_length,
                          "model": model_digest(text_model)}, sort_keys=True)
    key = hashlib.sha1(payload.encode()).hexdigest()[:16]
    path = Path(cache_dir) / "tokens" / f"{key}.npz"
    if path.is_file():
        return _load(path, splits)

    tags = cached_tags(sorted({c for captions in splits.values() for c in captions}), cache_dir, progress)
    idf = idf_table([tags[c] for c in splits["train"]], token_type) if token_type != "none" else {}
    tokenizer = load_tokenizer(text_model)
    tables = {}
    for name, captions in splits.items():
        tokenized = build_token_weights(captions, idf, token_type, tokenizer, max_length,
                                        tagged=[tags[c] for c in captions])
        tables[name] = _table(captions, tokenized, max_length)
    _save(path, idf, tables)
    return idf, tables


def cached_tags(captions: list[str], cache_dir: str | Path, progress: bool = False) -> dict[str, list[Word]]:
    """spaCy tags of ``captions``, computed once per caption set and shared by every token type."""
    key = hashlib.sha1(json.dumps(captions).encode()).hexdigest()[:16]
    path = Path(cache_dir) / "pos" / f"{key}.json"
    if path.is_file():
        tagged = [[Word(*word) for word in words] for words in json.loads(path.read_text())]
    else:
        tagged = tag_captions(captions, progress=progress)
        write_json(path, [[astuple(word) for word in words] for words in tagged])
    return dict(zip(captions, tagged))


def _save(path: Path, idf: dict[str, float], tables: dict[str, TextTable]) -> None:
    arrays = {"idf": np.array(json.dumps(idf))}
    for name, table in tables.items():
        arrays[f"{name}.input_ids"] = table.input_ids
        arrays[f"{name}.attention_mask"] = table.attention_mask
        arrays[f"{name}.weights"] = table.weights
    with atomic_path(path) as temporary, open(temporary, "wb") as fh:
        np.savez(fh, **arrays)


def _load(path: Path, splits: dict[str, list[str]]) -> tuple[dict[str, float], dict[str, TextTable]]:
    with np.load(path) as data:
        idf = json.loads(str(data["idf"]))
        tables = {name: TextTable(list(captions), data[f"{name}.input_ids"], data[f"{name}.attention_mask"],
                                  data[f"{name}.weights"]) for name, captions in splits.items()}
    return idf, tables
