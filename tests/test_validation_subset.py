"""The validation subset: one caption per segment, at most max_segments segments, seeded."""
from taco.data.records import Clip
from taco.data.retrieval import validation_subset


def _clips(videos: int, captions: int) -> list[Clip]:
    return [Clip(video_id=f"v{v}", start=0.0, end=5.0, text=f"caption {c} of video {v}", split="val")
            for v in range(videos) for c in range(captions)]


def test_one_caption_per_segment_and_at_most_max_segments():
    clips = _clips(videos=30, captions=20)
    kept = validation_subset(clips, max_segments=10, seed=0)
    assert len(kept) == 10
    assert len({c.segment for c in kept}) == 10
    kept_all = validation_subset(clips, max_segments=100, seed=0)
    assert sorted(c.video_id for c in kept_all) == sorted(f"v{v}" for v in range(30))


def test_the_draw_is_seeded_and_keeps_the_original_order():
    clips = _clips(videos=30, captions=5)
    first, again = validation_subset(clips, 10, seed=3), validation_subset(clips, 10, seed=3)
    assert [c.text for c in first] == [c.text for c in again]
    assert [c.text for c in validation_subset(clips, 10, seed=4)] != [c.text for c in first]
    positions = [clips.index(c) for c in first]
    assert positions == sorted(positions)


def test_single_caption_segments_are_all_kept_below_the_limit():
    clips = _clips(videos=7, captions=1)
    assert validation_subset(clips, 10, seed=0) == clips
