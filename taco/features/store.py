"""Pre-extracted video features on disk, read through memory maps.

Layout (docs/data_formats.md, "Pre-extracted video features"): ``<root>/features/<type>/<video_id>.npy``
holds one (T, D) float16 array per video and feature type, rows L2-normalised. A clip
[start, end] in seconds maps to rows ``int(start*rate) : int(end*rate)+1``. Several types (the
paper's "R-152 + S3D" inputs) are aligned to the first type's time axis and concatenated along D.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from taco.atomic import atomic_path

FEATURE_RATES: dict[str, float] = {"r152": 1.0, "s3d_hm": 1.0, "i3d_x101": 1.5}  # features per second
FEATURES_DIR = "features"


class FeatureError(ValueError):
    """A feature file is missing or malformed, or a clip lies outside its video; names file and video."""


def parse_feature_spec(spec: str) -> list[str]:
    """Split a '+'-joined combination such as ``"r152+s3d_hm"`` into its feature types, in order."""
    types = [part.strip() for part in spec.split("+")]
    for feature_type in types:
        if feature_type not in FEATURE_RATES:
            raise FeatureError(
                f"unknown feature type '{feature_type}' in '{spec}' (known: {', '.join(FEATURE_RATES)})"
            )
    if len(set(types)) != len(types):
        raise FeatureError(f"feature spec '{spec}' lists a type twice")
    return types


def feature_path(root: str | Path, feature_type: str, video_id: str) -> Path:
    """Where the ``feature_type`` features of ``video_id`` live under a dataset root."""
    return Path(root) / FEATURES_DIR / feature_type / f"{video_id}.npy"


def clip_rows(start: float, end: float, rate: float, length: int, max_tokens: int) -> np.ndarray:
    """Row indices of the clip [start, end] s in a video of ``length`` rows at ``rate`` rows/s.

    The rows are ``int(start*rate) : int(end*rate)+1`` (docs/data_formats.md), clamped to the video's length.
    When that gives more than ``max_tokens`` rows they are reduced by evenly spaced sampling:
    ``round(linspace(first, last, max_tokens))``, which keeps the first and last row and whole
    frames. Unlike average pooling it keeps per-frame peaks, which the token-level max over
    frames of Eq. 4 relies on.
    """
    if max_tokens < 1:
        raise FeatureError(f"max_tokens must be >= 1, got {max_tokens}")
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end < start:
        raise FeatureError(f"clip [{start}, {end}] s is not a range 0 <= start <= end")
    first = int(start * rate)
    if first >= length:
        raise FeatureError(
            f"clip [{start}, {end}] s starts at row {first}, beyond the video's {length} rows "
            f"({length / rate:g} s at {rate:g} rows/s)"
        )
    rows = np.arange(first, min(int(end * rate) + 1, length))
    if len(rows) > max_tokens:
        rows = rows[np.rint(np.linspace(0, len(rows) - 1, max_tokens)).astype(np.int64)]
    return rows


class FeatureStore:
    """Read-only access to one feature type or a '+'-joined combination of them under ``root``.

    ``dim`` is the sum of the types' widths (read from the files, never assumed) and ``rate`` the
    first type's rate: the shared time axis. At most ``cache_size`` memory maps stay open (each
    holds a file descriptor), least recently used first out.
    """

    def __init__(self, root: str | Path, spec: str, cache_size: int = 4096):
        if cache_size < 1:
            raise ValueError(f"cache_size must be >= 1, got {cache_size}")
        self.root = Path(root)
        self.types = parse_feature_spec(spec)
        self.rate = FEATURE_RATES[self.types[0]]
        self._cache_size = cache_size
        self._open: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._reference_files: dict[str, Path] = {}
        self.widths: dict[str, int] = {t: self._reference_width(t) for t in self.types}
        self.dim = sum(self.widths.values())

    def __getstate__(self) -> dict:
        """Pickle (e.g. to spawned DataLoader workers) without the open maps, which would copy the data."""
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()
        return state

    def video(self, video_id: str) -> np.ndarray:
        """All rows (T, D) of a video: the file's np.memmap for one type; for a combination, a float32
        copy of the types aligned to the first type's rows (see ``_gather``). Values are checked by
        ``clip``, not here (that would read the whole file)."""
        base = self._array(self.types[0], video_id)
        if len(self.types) == 1:
            return base
        return self._gather(video_id, np.arange(len(base)))

    def clip(self, video_id: str, start: float, end: float, max_tokens: int) -> np.ndarray:
        """Float32 rows (m, D) of the clip [start, end] s, m <= max_tokens, chosen by ``clip_rows``."""
        base = self._array(self.types[0], video_id)
        try:
            rows = clip_rows(start, end, self.rate, len(base), max_tokens)
        except FeatureError as err:
            path = feature_path(self.root, self.types[0], video_id)
            raise FeatureError(f"video '{video_id}' ('{path}'): {err}") from None
        return self._gather(video_id, rows)

    def _gather(self, video_id: str, rows: np.ndarray) -> np.ndarray:
        """Rows of the first type, and from every other type the row whose interval
        [j/r, (j+1)/r) contains the base row's centre (i + 0.5)/r0 (clamped to its last row),
        concatenated along D as float32; a NaN or inf in any gathered row is an error."""
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        offset = 0
        for feature_type in self.types:
            array = self._array(feature_type, video_id)
            if feature_type == self.types[0]:
                source_rows = rows
            else:
                # the base centre (i + 0.5)/r0 in seconds, times this type's rate r
                position = (rows + 0.5) * FEATURE_RATES[feature_type] / self.rate
                source_rows = np.minimum(position.astype(np.int64), len(array) - 1)
            block = out[:, offset:offset + array.shape[1]]
            block[:] = array[source_rows]
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                path = feature_path(self.root, feature_type, video_id)
                raise FeatureError(
                    f"video '{video_id}': '{path}' row {source_rows[np.argmax(bad)]} holds NaN or inf"
                )
            offset += array.shape[1]
        return out

    def _array(self, feature_type: str, video_id: str) -> np.ndarray:
        """The (cached) memory map of one type's file for a video, its width checked."""
        key = (feature_type, video_id)
        if key in self._open:
            self._open.move_to_end(key)
            return self._open[key]
        path = feature_path(self.root, feature_type, video_id)
        array = _map_features(path, video_id)
        if array.shape[1] != self.widths[feature_type]:
            raise FeatureError(
                f"video '{video_id}': '{path}' has width {array.shape[1]}, but '{feature_type}' "
                f"features are {self.widths[feature_type]}-d (as in '{self._reference_files[feature_type]}')"
            )
        self._open[key] = array
        if len(self._open) > self._cache_size:
            self._open.popitem(last=False)
        return array

    def _reference_width(self, feature_type: str) -> int:
        """The width of one file of the type; every other file is checked against it when opened."""
        folder = self.root / FEATURES_DIR / feature_type
        if not folder.is_dir():
            raise FeatureError(f"feature folder '{folder}' for type '{feature_type}' does not exist")
        with os.scandir(folder) as entries:
            first = next((Path(e.path) for e in entries if e.name.endswith(".npy")), None)
        if first is None:
            raise FeatureError(f"feature folder '{folder}' for type '{feature_type}' holds no .npy file")
        self._reference_files[feature_type] = first
        return _map_features(first, first.stem).shape[1]


def _map_features(path: Path, video_id: str) -> np.ndarray:
    """Memory-map one feature file; it must hold a non-empty 2-D float array."""
    try:
        array = np.load(path, mmap_mode="r")
    except FileNotFoundError:
        raise FeatureError(f"no features for video '{video_id}': '{path}' does not exist") from None
    except (OSError, ValueError) as err:
        raise FeatureError(f"cannot read features of video '{video_id}' from '{path}': {err}") from None
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise FeatureError(
            f"video '{video_id}': '{path}' holds a {array.dtype} array of shape {array.shape}, "
            "expected a 2-D (T, D) float array"
        )
    if array.shape[0] == 0:
        raise FeatureError(f"video '{video_id}': '{path}' is a zero-length video (0 rows)")
    return array


def pad_batch(clips: list[np.ndarray], max_tokens: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack clips (m_k, D) into zero-padded values (K, m, D) float32 and a mask (K, m), True = real row.

    m is the longest clip, or ``max_tokens`` when given (a fixed shape; longer clips are an error).
    """
    if not clips:
        raise ValueError("pad_batch needs at least one clip")
    width = clips[0].shape[-1]
    length = max(len(clip) for clip in clips) if max_tokens is None else max_tokens
    values = torch.zeros(len(clips), length, width)
    mask = torch.zeros(len(clips), length, dtype=torch.bool)
    for k, clip in enumerate(clips):
        if clip.ndim != 2 or clip.shape[1] != width or len(clip) == 0:
            raise ValueError(f"clip {k} has shape {clip.shape}, expected (m > 0, {width})")
        if len(clip) > length:
            raise ValueError(f"clip {k} has {len(clip)} rows, more than max_tokens={max_tokens}")
        values[k, :len(clip)] = torch.from_numpy(np.asarray(clip, dtype=np.float32))
        mask[k, :len(clip)] = True
    return values, mask


def write_features(path: str | Path, array: np.ndarray) -> None:
    """Save (T, D) features as the reference extractors do: rows L2-normalised, float16.

    All-zero rows stay zero. The file appears whole or not at all (a temporary file in the same
    folder, then os.replace).
    """
    path = Path(path)
    values = np.asarray(array, dtype=np.float32)
    if values.ndim != 2 or 0 in values.shape:
        raise FeatureError(f"'{path}': features must be a non-empty (T, D) array, got shape {values.shape}")
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise FeatureError(f"'{path}': row {np.argmax(bad)} holds NaN or inf")
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    normalised = (values / np.maximum(norms, np.finfo(np.float32).tiny)).astype(np.float16)
    with atomic_path(path) as temporary, open(temporary, "xb") as handle:
        np.save(handle, normalised)
