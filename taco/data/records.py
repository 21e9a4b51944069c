"""The one record every loader yields: a clip of a video with its caption (or paragraph)."""
from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Clip:
    """A [start, end] second range of a video and one text describing it.

    Datasets with several captions per clip (MSR-VTT) yield one Clip per caption; clips of
    the same video segment share ``(video_id, start, end)``.
    """

    video_id: str
    start: float
    end: float
    text: str
    split: str  # one of SPLITS

    @property
    def segment(self) -> tuple[str, float, float]:
        return (self.video_id, self.start, self.end)


def count(clips: list[Clip]) -> dict[str, int]:
    """Counts reported by every loader: distinct videos, distinct segments, captions."""
    return {
        "videos": len({c.video_id for c in clips}),
        "clips": len({c.segment for c in clips}),
        "captions": len(clips),
    }
