"""Video feature extraction: video files -> one (T, D) float16 array per video (the DAG's first stage).

Each feature type follows the public extractors (docs/data_formats.md, "Pre-extracted video features"):

- ``r152``: ResNet-152, 1 frame/s, shorter side 224, no crop, pixels /255 then ImageNet mean/std;
  one 2048-d row per frame.
- ``i3d_x101``: 3D ResNeXt-101, 24 fps, shorter side 112, center crop 112, frames zero-padded to a
  multiple of 16 and cut into 16-frame clips without overlap, no /255, mean (110.6, 103.2, 96.3),
  std 1; one 2048-d row per clip (1.5 rows/s).
- ``s3d_hm``: S3D (MIL-NCE, HowTo100M), 16 fps, shorter side 224, center crop 224, 16-frame windows
  without overlap (zero-padded like I3D), pixels /255 only; one 1024-d ``mixed_5c`` row per window
  (1 row/s).

A video of duration d seconds gives ceil(d * fps) frames (``video_io.sample_count``), hence
ceil(ceil(d * fps) / frames_per_row) rows. Rows are written L2-normalised in float16 by
``store.write_features``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from taco.atomic import write_text
from taco.features.resnet2d import ResNet2D
from taco.features.resnext3d import ResNeXt3D
from taco.features.s3d import S3D
from taco.features.store import write_features
from taco.features.video_io import read_video

LOG = logging.getLogger(__name__)
FAILED_LOG = "failed_videos.txt"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".flv", ".mpg", ".mpeg")


@dataclass(frozen=True)
class FeatureExtractor:
    """How one feature type samples, preprocesses and embeds a video."""

    fps: float                     # frames sampled per second
    shorter_side: int              # frames resized so that their shorter side has this length
    crop: int | None               # center crop (square) after resizing, or none
    frames_per_row: int            # 1: one image per row; k > 1: non-overlapping k-frame clips
    pixel_scale: float             # pixels divided by this before mean/std
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    build_model: Callable[[], nn.Module]  # the full-size network, random weights
    batch_size: int                # rows per forward pass by default

    @property
    def rows_per_second(self) -> float:
        return self.fps / self.frames_per_row


EXTRACTORS: dict[str, FeatureExtractor] = {
    "r152": FeatureExtractor(1.0, 224, None, 1, 255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                             ResNet2D, 64),
    "i3d_x101": FeatureExtractor(24.0, 112, 112, 16, 1.0, (110.6, 103.2, 96.3), (1.0, 1.0, 1.0), ResNeXt3D, 16),
    "s3d_hm": FeatureExtractor(16.0, 224, 224, 16, 255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), S3D, 16),
}


class WeightsError(ValueError):
    """A weight file cannot be read or does not fit the network; the message names the file."""


class ExtractionError(RuntimeError):
    """Feature extraction failed for one video; the message names the video."""


@dataclass(frozen=True)
class ExtractionSummary:
    written: int    # videos whose features were extracted in this run
    existing: int   # videos skipped because their output file already existed
    failed: list[str]  # videos that failed (only with skip_errors)


def extractor(feature_type: str) -> FeatureExtractor:
    if feature_type not in EXTRACTORS:
        raise ValueError(f"unknown feature type '{feature_type}' (known: {', '.join(EXTRACTORS)})")
    return EXTRACTORS[feature_type]


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load a local weight file into ``model`` with a strict key and shape check.

    Accepts a plain state_dict or a checkpoint holding one under ``state_dict``; strips a
    ``module.`` (DataParallel) prefix; drops keys under the model's ``IGNORED_WEIGHT_PREFIXES``
    (S3D's unused text branch); tolerates missing ``num_batches_tracked`` buffers. Any other
    missing, unexpected or mis-shaped key raises WeightsError listing them and naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file '{path}' does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for unreadable or unsafe pickles
        raise WeightsError(f"cannot read weight file '{path}': {err}") from err
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise WeightsError(f"weight file '{path}' holds a {type(state).__name__}, not a state_dict")
    ignored = tuple(getattr(model, "IGNORED_WEIGHT_PREFIXES", ()))
    state = {key.removeprefix("module."): value for key, value in state.items()}
    state = {key: value for key, value in state.items() if not key.startswith(ignored)}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    shapes = {k: tuple(getattr(v, "shape", ())) for k, v in state.items() if k in expected}
    mismatched = [f"{k} (file {shape}, model {tuple(expected[k].shape)})"
                  for k, shape in shapes.items() if shape != tuple(expected[k].shape)]
    problems = [f"{label} ({len(keys)}): {', '.join(keys[:10])}{' ...' if len(keys) > 10 else ''}"
                for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("shape mismatches", mismatched)) if keys]
    if problems:
        raise WeightsError(f"weight file '{path}' does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)


def build_model(feature_type: str, weights: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The full-size network of ``feature_type`` with ``weights`` loaded, in eval mode on ``device``."""
    model = extractor(feature_type).build_model()
    load_weights(model, weights)
    return model.eval().to(device)


def _model_input(frames: torch.Tensor, spec: FeatureExtractor) -> torch.Tensor:
    """(B, k, H, W, 3) uint8 -> normalised (B, 3, H, W) for k = 1, else (B, 3, k, H, W)."""
    x = frames.float() / spec.pixel_scale
    x = (x - x.new_tensor(spec.mean)) / x.new_tensor(spec.std)
    x = x.permute(0, 4, 1, 2, 3).contiguous()
    return x.squeeze(2) if spec.frames_per_row == 1 else x


def extract_video(path: str | Path, feature_type: str, model: nn.Module, device: str | torch.device = "cpu",
                  batch_size: int | None = None, frame_size: int | None = None) -> np.ndarray:
    """Float32 features (T, D) of one video, not normalised: one row per frame or per clip.

    ``model`` (on ``device``, in eval mode) must offer ``features(x) -> (B, D)``. ``frame_size``
    replaces the shorter side (and the crop, where the type crops): for tests with tiny frames.
    Forward passes run ``batch_size`` rows at a time under no_grad, in bf16 autocast on CUDA.
    """
    spec = extractor(feature_type)
    device = torch.device(device)
    batch_size = batch_size or spec.batch_size
    shorter_side = frame_size or spec.shorter_side
    crop = shorter_side if spec.crop is not None and frame_size else spec.crop
    frames = read_video(path, spec.fps, shorter_side, crop).frames
    padding = -len(frames) % spec.frames_per_row
    if padding:
        frames = torch.cat([frames, frames.new_zeros((padding, *frames.shape[1:]))])
    units = frames.reshape(-1, spec.frames_per_row, *frames.shape[1:])
    rows = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for chunk in units.split(batch_size):
            rows.append(model.features(_model_input(chunk.to(device), spec)).float().cpu())
    return torch.cat(rows).numpy()


def _write_failures(out_dir: Path, failures: list[tuple[Path, str]]) -> None:
    """Rewrite ``failed_videos.txt`` (one 'video path<TAB>error' line per failed video) atomically."""
    write_text(out_dir / FAILED_LOG, "".join(f"{path}\t{' '.join(error.split())}\n" for path, error in failures))


def extract_dataset(video_paths: Iterable[str | Path], out_dir: str | Path, feature_type: str,
                    weights: str | Path | None = None, skip_errors: bool = False, progress: bool = True, *,
                    device: str | torch.device = "cpu", batch_size: int | None = None,
                    model: nn.Module | None = None, frame_size: int | None = None) -> ExtractionSummary:
    """Write ``<out_dir>/<video_id>.npy`` (video id = file name without suffix) for every video.

    Videos whose output exists are skipped, so an interrupted run resumes. The network is built
    from ``weights`` unless a ready ``model`` is given (tests). With ``skip_errors`` a failing video
    is recorded in ``<out_dir>/failed_videos.txt`` (rewritten every run; removed when nothing
    failed) and the run goes on; otherwise the first failure raises ExtractionError naming it.
    """
    paths = [Path(p) for p in video_paths]
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise ExtractionError(f"videos '{seen[path.stem]}' and '{path}' share the video id '{path.stem}'")
        seen[path.stem] = path
    if (weights is None) == (model is None):
        raise ValueError("give exactly one of weights (a file) or model")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [p for p in paths if not (out_dir / f"{p.stem}.npy").exists()]
    if todo and model is None:
        model = build_model(feature_type, weights, device)
    failures: list[tuple[Path, str]] = []
    for path in tqdm(todo, desc=f"{feature_type} features", unit="video", disable=not progress):
        try:
            features = extract_video(path, feature_type, model, device, batch_size, frame_size)
            write_features(out_dir / f"{path.stem}.npy", features)
        except Exception as err:  # any per-video failure: decode, model, write
            if not skip_errors:
                raise ExtractionError(f"feature extraction failed for video '{path.stem}' ('{path}'): {err}") from err
            LOG.warning("skipping video '%s' ('%s'): %s", path.stem, path, err)
            failures.append((path, f"{type(err).__name__}: {err}"))
            _write_failures(out_dir, failures)
    if skip_errors and not failures:
        (out_dir / FAILED_LOG).unlink(missing_ok=True)
    return ExtractionSummary(len(todo) - len(failures), len(paths) - len(todo), [str(p) for p, _ in failures])


def video_files(folder: str | Path) -> list[Path]:
    """The video files (by suffix) directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"video folder '{folder}' does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


PROG = "python -m taco.features.extract"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from taco.cli import HelpFormatter

    parser = argparse.ArgumentParser(prog=prog, formatter_class=HelpFormatter,
                                     description="Extract per-video features (T, D) from video files.")
    parser.add_argument("--videos", required=True, help="folder holding the video files")
    parser.add_argument("--out", required=True, help="output folder for <video_id>.npy files")
    parser.add_argument("--type", required=True, choices=sorted(EXTRACTORS), help="feature type")
    parser.add_argument("--weights", required=True, help="local weight file of the network")
    parser.add_argument("--skip-errors", action="store_true", help=f"log failing videos to {FAILED_LOG} and go on")
    parser.add_argument("--device", default="cpu", help="torch device of the network, e.g. cuda")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="rows per forward pass (unset: the extractor's own default)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    summary = extract_dataset(video_files(args.videos), args.out, args.type, args.weights, args.skip_errors,
                              device=args.device, batch_size=args.batch_size)
    LOG.info("%d written, %d already there, %d failed", summary.written, summary.existing, len(summary.failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
