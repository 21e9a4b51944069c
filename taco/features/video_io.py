"""Decode a video file into frames sampled at a fixed rate, resized and optionally center-cropped.

The frame sampling follows the public feature extractors (docs/data_formats.md, "Pre-extracted video
features"): frames are taken at times ``k / fps`` for ``k = 0 .. ceil(duration * fps) - 1``,
each time getting the decoded frame nearest to it (the earlier one on a tie); the shorter side
is then resized to a target length and, where asked, the center is cropped to a square.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, NamedTuple

import av
import torch
import torch.nn.functional as F


TIE_TOLERANCE = 1e-6  # seconds: frame times closer than this to equidistant count as a tie


class VideoDecodeError(RuntimeError):
    """A video file cannot be opened or decoded; the message names the file."""


class DecodedVideo(NamedTuple):
    frames: torch.Tensor  # (T, H, W, 3) uint8, RGB
    duration: float       # seconds


def sample_count(duration: float, fps: float) -> int:
    """Number of frames sampled at ``fps`` from a video of ``duration`` seconds: ceil(duration * fps), at least 1."""
    return max(1, math.ceil(round(duration * fps, 6)))


def resized_shape(height: int, width: int, shorter_side: int) -> tuple[int, int]:
    """(height, width) with the shorter side set to ``shorter_side`` and the aspect ratio kept (longer side floored)."""
    if height <= width:
        return shorter_side, int(width * shorter_side / height)
    return int(height * shorter_side / width), shorter_side


def resize_shorter_side(frame: torch.Tensor, shorter_side: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of one (H, W, 3) uint8 frame so that its shorter side is ``shorter_side``."""
    height, width = frame.shape[:2]
    size = resized_shape(height, width, shorter_side)
    if size == (height, width):
        return frame
    image = frame.permute(2, 0, 1).unsqueeze(0).float()
    image = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
    return image.round().clamp(0, 255).to(torch.uint8).squeeze(0).permute(1, 2, 0).contiguous()


def center_crop(frame: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` window of an (H, W, 3) frame (offsets floored, as ffmpeg's crop)."""
    height, width = frame.shape[:2]
    if height < size or width < size:
        raise ValueError(f"cannot center-crop {size}x{size} from a {height}x{width} frame")
    top, left = (height - size) // 2, (width - size) // 2
    return frame[top:top + size, left:left + size]


def _frame_times(stream: av.video.stream.VideoStream, frames: Iterator[av.VideoFrame]
                 ) -> Iterator[tuple[float, av.VideoFrame]]:
    """Decoded frames with their presentation time in seconds (frame index / rate where a frame lacks one)."""
    rate = float(stream.average_rate or stream.guessed_rate or 0) or None
    for index, frame in enumerate(frames):
        if frame.time is not None:
            yield float(frame.time), frame
        elif rate is not None:
            yield index / rate, frame
        else:
            raise VideoDecodeError("a frame has no timestamp and the stream no frame rate")


def _stream_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                     last_frame_end: float) -> float:
    """The video stream's duration from its metadata, else the container's, else the decoded frames' end."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return last_frame_end


def read_video(path: str | Path, fps: float, shorter_side: int, crop: int | None = None) -> DecodedVideo:
    """Decode ``path`` and return frames sampled at ``fps`` (nearest frame in time), resized so the
    shorter side is ``shorter_side`` and center-cropped to ``crop`` x ``crop`` when ``crop`` is given.

    Raises FileNotFoundError for a missing file and VideoDecodeError (naming the file) for one
    that cannot be decoded or holds no video frame.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file '{path}' does not exist")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if crop is not None and crop > shorter_side:
        raise ValueError(f"crop {crop} is larger than the shorter side {shorter_side}")
    try:
        return _decode(path, fps, shorter_side, crop)
    except (VideoDecodeError, av.FFmpegError) as err:
        raise VideoDecodeError(f"cannot decode video '{path}': {err}") from err


def _decode(path: Path, fps: float, shorter_side: int, crop: int | None) -> DecodedVideo:
    last_source: av.VideoFrame | None = None
    last_image: torch.Tensor | None = None

    def convert(frame: av.VideoFrame) -> torch.Tensor:
        """RGB, resized and cropped; consecutive picks of the same decoded frame are converted once."""
        nonlocal last_source, last_image
        if frame is not last_source:
            image = resize_shorter_side(torch.from_numpy(frame.to_ndarray(format="rgb24")), shorter_side)
            last_source, last_image = frame, center_crop(image, crop) if crop is not None else image
        return last_image

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoDecodeError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames: list[torch.Tensor] = []  # one per sampled time k / fps, in order
        origin = previous = previous_time = None
        frame_time = 0.0
        for frame_time, frame in _frame_times(stream, container.decode(stream)):
            origin = frame_time if origin is None else origin
            frame_time -= origin
            while len(frames) / fps <= frame_time:
                target = len(frames) / fps
                nearer_previous = (previous is not None
                                   and target - previous_time <= frame_time - target + TIE_TOLERANCE)
                frames.append(convert(previous if nearer_previous else frame))
            previous, previous_time = frame, frame_time
        if previous is None:
            raise VideoDecodeError("no decodable video frame")
        frame_step = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
        duration = _stream_duration(container, stream, frame_time + frame_step)
        total = sample_count(duration, fps)
        del frames[total:]
        frames.extend(convert(previous) for _ in range(total - len(frames)))
    return DecodedVideo(torch.stack(frames), duration)
