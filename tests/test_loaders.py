"""Loaders of the six releases, read from fixtures fabricated in their real formats."""
from __future__ import annotations

import json
import math
import os
import pickle
import random

import numpy as np
import pytest

from fixtures_formats import (
    HOWTO100M_GROUPS,
    MSRVTT_TIMES,
    coin_step_id,
    crosstask_annotation,
    crosstask_steps,
    crosstask_task_id,
    howto100m_narrations,
    write_activitynet,
    write_coin,
    write_crosstask,
    write_howto100m,
    write_msrvtt,
    write_youcook2,
    write_youcook2_univl,
    youtube_id,
)
from taco.data.activitynet import load_activitynet
from taco.data.annotation_io import AnnotationError
from taco.data.coin import coin_clips, load_coin
from taco.data.crosstask import crosstask_clips, load_crosstask
from taco.data.howto100m import load_howto100m
from taco.data.loaders import CLIP_LOADERS, load_clips
from taco.data.msrvtt import load_msrvtt
from taco.data.records import Clip, count
from taco.data.safe_pickle import safe_load
from taco.data.splits import hold_out_validation, split_summary
from taco.data.youcook2 import convert_univl_features, load_youcook2, load_youcook2_univl


def per_split(clips: list[Clip]) -> dict[str, dict[str, int]]:
    """records.count of each split present (independent of taco.data.splits)."""
    return {split: count([c for c in clips if c.split == split]) for split in sorted({c.split for c in clips})}


def edit_json(path, change) -> None:
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


# ------------------------------------------------------------------------------------ safe pickle
class _RunsShell:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_safe_load_reads_containers_and_numpy_in_every_protocol(tmp_path, protocol):
    payload = {
        "floats": np.arange(6, dtype=np.float32).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "objects": np.array([1, "two", 3.5], dtype=object),
        "scalars": [np.float64(2.5), np.int64(-3), np.float16(1.5)],
        "dtype": np.dtype("<f4"),
        "plain": (1, 2.0, "three", b"four", None, True, 1 + 2j),
        "sets": [{1, 2}, frozenset({"a"}), bytearray(b"xy")],
    }
    path = tmp_path / "data.pickle"
    path.write_bytes(pickle.dumps(payload, protocol=protocol))
    loaded = safe_load(path)
    assert set(loaded) == set(payload)
    for key in ("floats", "fortran"):
        assert loaded[key].dtype == payload[key].dtype
        np.testing.assert_array_equal(loaded[key], payload[key])
    assert loaded["objects"].dtype == object and list(loaded["objects"]) == [1, "two", 3.5]
    assert loaded["scalars"] == payload["scalars"]
    assert [type(value) for value in loaded["scalars"]] == [np.float64, np.int64, np.float16]
    assert loaded["dtype"] == payload["dtype"]
    assert loaded["plain"] == payload["plain"] and loaded["sets"] == payload["sets"]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_safe_load_refuses_os_system_without_running_it(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"x": _RunsShell(f"touch {marker}")}, protocol=protocol))
    with pytest.raises(pickle.UnpicklingError) as error:
        safe_load(path)
    assert str(path) in str(error.value) and ".system'" in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("target", [eval, np.load, getattr])
def test_safe_load_refuses_callables_outside_the_allow_list(tmp_path, target):
    path = tmp_path / "callable.pickle"
    path.write_bytes(pickle.dumps(target))
    with pytest.raises(pickle.UnpicklingError, match=target.__name__):
        safe_load(path)


@pytest.mark.parametrize("protocol", [0, 2])
def test_safe_load_reads_numpy_1x_module_names(tmp_path, protocol):
    """Pickles written under numpy 1.x (as UniVL's were) name numpy.core.multiarray."""
    data = pickle.dumps({"a": np.arange(3.0), "s": np.float32(2.0)}, protocol=protocol)
    assert b"numpy._core.multiarray" in data  # GLOBAL opcodes are newline-terminated text: safe to rename
    path = tmp_path / "old.pickle"
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    loaded = safe_load(path)
    np.testing.assert_array_equal(loaded["a"], np.arange(3.0))
    assert loaded["s"] == np.float32(2.0) and type(loaded["s"]) is np.float32


def test_safe_load_names_missing_and_truncated_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pickle"):
        safe_load(tmp_path / "absent.pickle")
    path = tmp_path / "cut.pickle"
    path.write_bytes(pickle.dumps({"a": np.ones(4)})[:-5])
    with pytest.raises(pickle.UnpicklingError, match="cut.pickle"):
        safe_load(path)


# --------------------------------------------------------------------------------------- YouCook2
def test_youcook2_counts_and_records(tmp_path):
    expected = write_youcook2(tmp_path, train_videos=3, test_videos=2, clips_per_video=3)
    clips = load_youcook2(tmp_path)
    assert per_split(clips) == expected
    first = Clip(youtube_id("yc", 0), 0.0, 6.0, "step 0 of recipe 0", "train")
    assert first in clips
    assert Clip(youtube_id("yc", 4), 24.0, 30.0, "step 2 of recipe 4", "test") in clips


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["database"][youtube_id("yc", 1)]["annotations"][2].pop("sentence"),
         f"video '{youtube_id('yc', 1)}' annotation 2 has no key 'sentence'"),
        (lambda d: d["database"][youtube_id("yc", 0)].pop("subset"), f"video '{youtube_id('yc', 0)}' has no key 'subset'"),
        (lambda d: d["database"][youtube_id("yc", 0)].update(subset="testing"), "unknown subset 'testing'"),
        (lambda d: d["database"][youtube_id("yc", 3)]["annotations"][0].update(segment=[9, 4]),
         f"video '{youtube_id('yc', 3)}' annotation 0: end 4.0 is before start 9.0"),
        (lambda d: d["database"][youtube_id("yc", 3)]["annotations"][1].update(segment=[-1, 4]),
         f"video '{youtube_id('yc', 3)}' annotation 1: negative start"),
    ],
)
def test_youcook2_bad_input_names_file_item_and_key(tmp_path, change, message):
    write_youcook2(tmp_path)
    path = tmp_path / "youcookii_annotations_trainval.json"
    edit_json(path, change)
    with pytest.raises(AnnotationError) as error:
        load_youcook2(tmp_path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_youcook2_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="youcookii_annotations_trainval.json"):
        load_youcook2(tmp_path)


def test_youcook2_univl_pickle_with_split_from_val_csv(tmp_path):
    expected = write_youcook2_univl(tmp_path, train_videos=2, test_videos=1, clips_per_video=2)
    clips = load_youcook2_univl(tmp_path)
    assert per_split(clips) == expected
    assert Clip(youtube_id("uv", 2), 4.0, 7.0, "add item 1 to pot 2", "test") in clips
    assert all(not c.text.startswith("so now") for c in clips)  # the ASR transcript is not a caption
    with open(tmp_path / "youcookii_val.csv", "a") as fh:
        fh.write("nope,nope.mp4\n")
    with pytest.raises(AnnotationError, match="test video 'nope'"):
        load_youcook2_univl(tmp_path)


def test_youcook2_univl_train_split_is_the_train_csv(tmp_path):
    """Videos 0-2 in youcookii_train.csv, 3 in youcookii_val.csv, video 2 dropped from the train csv:
    it is in neither split (not train because it is missing from the test csv)."""
    write_youcook2_univl(tmp_path, train_videos=3, test_videos=1, clips_per_video=2)
    train_csv = tmp_path / "youcookii_train.csv"
    train_csv.write_text("".join(line + "\n" for line in train_csv.read_text().splitlines()
                                 if not line.startswith(youtube_id("uv", 2))))
    videos = {(c.video_id, c.split) for c in load_youcook2_univl(tmp_path)}
    assert videos == {(youtube_id("uv", 0), "train"), (youtube_id("uv", 1), "train"), (youtube_id("uv", 3), "test")}
    train_csv.unlink()  # without a train csv, every video outside the test csv is training
    assert (youtube_id("uv", 2), "train") in {(c.video_id, c.split) for c in load_youcook2_univl(tmp_path)}


def test_convert_univl_features_writes_float16_per_video(tmp_path):
    write_youcook2_univl(tmp_path / "release", train_videos=2, test_videos=1, feature_frames=4)
    with open(tmp_path / "release" / "youcookii_videos_features.pickle", "rb") as fh:
        source = pickle.load(fh)  # written by the test itself: trusted
    out_dir = tmp_path / "features" / "s3d_hm"
    written = convert_univl_features(tmp_path / "release" / "youcookii_videos_features.pickle", out_dir)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{youtube_id('uv', i)}.npy" for i in range(3))
    assert sorted(written) == sorted(out_dir.iterdir())
    for key, array in source.items():
        saved = np.load(out_dir / f"{key[:-len('.mp4')]}.npy")
        assert saved.dtype == np.float16 and saved.shape == (4, 1024)
        np.testing.assert_array_equal(saved, array.astype(np.float16))


def test_convert_univl_features_bad_array_leaves_no_output(tmp_path):
    path = tmp_path / "features.pickle"
    path.write_bytes(pickle.dumps({"good.mp4": np.ones((3, 8)), "flat.mp4": np.ones(8)}))
    out_dir = tmp_path / "out"
    with pytest.raises(AnnotationError, match="'flat.mp4' must be a 2-D"):
        convert_univl_features(path, out_dir)
    assert not out_dir.exists() or not any(out_dir.iterdir())


# ---------------------------------------------------------------------------------------- MSR-VTT
@pytest.mark.parametrize("split", ["split1", "split2"])
def test_msrvtt_counts_per_split(tmp_path, split):
    expected = write_msrvtt(tmp_path, n_videos=12, n_test=3, n_train_7k=5, captions_per_video=20)
    clips = load_msrvtt(tmp_path, split=split)
    assert per_split(clips) == expected[split]


def test_msrvtt_records(tmp_path):
    write_msrvtt(tmp_path, n_videos=12, n_test=3, captions_per_video=20)
    clips = load_msrvtt(tmp_path)
    duration = MSRVTT_TIMES[1] - MSRVTT_TIMES[0]
    assert all(c.start == 0.0 and c.end == pytest.approx(11.72) and c.end == duration for c in clips)
    video3 = [c.text for c in clips if c.video_id == "video3"]
    assert video3 == [f"a person does thing {k} in video 3" for k in range(20)]
    assert [c.text for c in clips if c.video_id == "video10"] == ["a person does thing 1 in video 10"]
    assert {c.split for c in clips if c.video_id in ("video9", "video10", "video11")} == {"test"}


def test_msrvtt_bad_input(tmp_path):
    write_msrvtt(tmp_path)
    with pytest.raises(ValueError, match="split3.*split1, split2"):
        load_msrvtt(tmp_path, split="split3")
    data = tmp_path / "MSRVTT_data.json"
    edit_json(data, lambda d: d["videos"][4].pop("end time"))
    with pytest.raises(AnnotationError, match=r"MSRVTT_data.json: video 'video4' has no key 'end time'"):
        load_msrvtt(tmp_path)
    write_msrvtt(tmp_path)
    edit_json(data, lambda d: d.update(videos=d["videos"][:-1]))  # drop video11, a test video
    with pytest.raises(AnnotationError, match=r"MSRVTT_JSFUSION_test.csv: line 4: video 'video11' is not among"):
        load_msrvtt(tmp_path)
    write_msrvtt(tmp_path)
    (tmp_path / "MSRVTT_train.9k.csv").write_text("vid\nvideo0\n")
    with pytest.raises(AnnotationError, match=r"MSRVTT_train.9k.csv: line 1: expected header video_id"):
        load_msrvtt(tmp_path)


# ------------------------------------------------------------------------------------ ActivityNet
def test_activitynet_paragraphs(tmp_path):
    expected = write_activitynet(tmp_path, train_videos=3, val_videos=2)
    clips = load_activitynet(tmp_path)
    assert per_split(clips) == expected
    video = youtube_id("an", 3)
    assert Clip(video, 0.0, 84.0, "Person 3 walks in. They pick item 3 up. They leave.", "test") in clips
    assert not any(c.video_id.startswith("v_") for c in clips)
    assert all(c.end == math.ceil(80.25 + i) for i, c in enumerate(sorted(clips, key=lambda c: c.video_id)))


def test_activitynet_id_files_restrict(tmp_path):
    expected = write_activitynet(tmp_path, train_videos=3, val_videos=2, id_files=True)
    clips = load_activitynet(tmp_path)
    assert per_split(clips) == expected
    assert youtube_id("an", 0) not in {c.video_id for c in clips}
    (tmp_path / "val_ids.json").write_text(json.dumps(["v_missing0001"]))
    with pytest.raises(AnnotationError, match=r"val_ids.json: video 'missing0001' has no annotation"):
        load_activitynet(tmp_path)


def test_activitynet_missing_duration_is_named(tmp_path):
    write_activitynet(tmp_path)
    key = f"v_{youtube_id('an', 1)}"
    edit_json(tmp_path / "train.json", lambda d: d[key].pop("duration"))
    with pytest.raises(AnnotationError, match=rf"train.json: video '{key}' has no key 'duration'"):
        load_activitynet(tmp_path)


# -------------------------------------------------------------------------------------- HowTo100M
@pytest.mark.parametrize("with_index", [True, False])
def test_howto100m_counts(tmp_path, with_index):
    expected = write_howto100m(tmp_path, with_index=with_index)
    clips = load_howto100m(tmp_path)
    assert per_split(clips) == expected
    assert ("ht_d" in {c.video_id for c in clips}) is not with_index


def test_howto100m_merged_records(tmp_path):
    write_howto100m(tmp_path)
    clips = [c for c in load_howto100m(tmp_path) if c.video_id == "ht_a"]
    narrations = howto100m_narrations("ht_a")
    bounds = [(0, 3), (3, 4), (4, 11)]  # narration index ranges of the groups in HOWTO100M_GROUPS["ht_a"]
    assert len(clips) == len(HOWTO100M_GROUPS["ht_a"])
    for clip, (first, stop) in zip(sorted(clips, key=lambda c: c.start), bounds):
        group = narrations[first:stop]
        assert clip.start == group[0][0] and clip.end == group[-1][1]
        assert clip.text == " ".join(word for _, _, text in group for word in text.split())
    assert len(sorted(clips, key=lambda c: c.start)[2].text.split()) == 14  # remainder of 4 merged in


def _naive_merge(pieces: list[tuple[float, float, str]], min_words: int) -> list[tuple[float, float, str]]:
    """Index-based re-statement of the merge rule over pieces already in time order."""
    cut_points, total = [], 0
    for index, (_, _, text) in enumerate(pieces):
        total += len(text.split())
        if total >= min_words:
            cut_points.append(index)
            total = 0
    if not cut_points:
        return []
    cut_points[-1] = len(pieces) - 1
    merged, begin = [], 0
    for cut in cut_points:
        span = pieces[begin:cut + 1]
        words = [w for _, _, text in span for w in text.split()]
        merged.append((span[0][0], max(e for _, e, _ in span), " ".join(words)))
        begin = cut + 1
    return merged


@pytest.mark.parametrize("min_words", [1, 4, 10])
def test_howto100m_matches_naive_merge_on_random_narrations(tmp_path, min_words):
    rng = random.Random(min_words)
    captions, expected = {}, []
    for v in range(6):
        pieces = []
        for k in range(rng.randint(1, 12)):
            text = " ".join(f"v{v}p{k}w{j}" for j in range(rng.randint(0, 6)))
            pieces.append((2.0 * k, 2.0 * k + rng.choice([1.0, 3.5]), text))
        shuffled = pieces[:]
        rng.shuffle(shuffled)
        captions[f"vid{v}"] = {"text": [p[2] for p in shuffled], "start": [p[0] for p in shuffled],
                               "end": [p[1] for p in shuffled]}
        expected += [(f"vid{v}", *m) for m in _naive_merge(pieces, min_words)]
    (tmp_path / "raw_caption.json").write_text(json.dumps(captions))
    clips = load_howto100m(tmp_path, min_words=min_words)
    assert [(c.video_id, c.start, c.end, c.text) for c in clips] == expected
    assert all(len(c.text.split()) >= min_words for c in clips)


def test_howto100m_raw_flag_picks_the_file(tmp_path):
    expected = write_howto100m(tmp_path, raw=False)
    assert per_split(load_howto100m(tmp_path, raw=False)) == expected
    with pytest.raises(FileNotFoundError, match="raw_caption.json"):
        load_howto100m(tmp_path, raw=True)


def test_howto100m_bad_input(tmp_path):
    write_howto100m(tmp_path)
    with pytest.raises(ValueError, match="min_words"):
        load_howto100m(tmp_path, min_words=0)
    edit_json(tmp_path / "raw_caption.json", lambda d: d["ht_b"]["start"].pop())
    with pytest.raises(AnnotationError, match=r"raw_caption.json: video 'ht_b': text/start/end"):
        load_howto100m(tmp_path)
    write_howto100m(tmp_path)
    edit_json(tmp_path / "raw_caption.json", lambda d: d["ht_a"]["end"].__setitem__(2, -1.0))
    with pytest.raises(AnnotationError, match=r"video 'ht_a' clip 2: end -1.0 is before start"):
        load_howto100m(tmp_path)
    write_howto100m(tmp_path)
    with open(tmp_path / "HowTo100M_v1.csv", "a") as fh:
        fh.write("ht_z,Food,Recipes,first,3\n")
    with pytest.raises(AnnotationError, match=r"HowTo100M_v1.csv: line 5: rank and task_id must be integers"):
        load_howto100m(tmp_path)


# -------------------------------------------------------------------------------------- CrossTask
def test_crosstask_release(tmp_path):
    expected = write_crosstask(tmp_path, n_tasks=2, videos_per_task=3, val_per_task=1)
    crosstask = load_crosstask(tmp_path)
    assert list(crosstask.tasks) == [crosstask_task_id(0), crosstask_task_id(1)]
    task = crosstask.tasks[crosstask_task_id(1)]
    assert (task.title, task.url, task.steps) == ("Task number 1", "http://www.wikihow.com/Task-1", crosstask_steps(1))
    assert len(crosstask.videos) == 2 * 3 + 1 and len(crosstask.val_videos) == 2
    video = youtube_id("ct", 4)
    assert crosstask.annotations(crosstask_task_id(1), video) == crosstask_annotation(4, len(crosstask_steps(1)))
    clips = crosstask_clips(crosstask)
    assert per_split(clips) == expected
    assert Clip(video, 20.5 + 4, 24.25 + 4, "step 2 of task 1", "test") in clips
    assert {c.split for c in clips if c.video_id == youtube_id("ct", 3)} == {"train"}


def test_crosstask_step_count_mismatch_names_file_and_line(tmp_path):
    write_crosstask(tmp_path)
    path = tmp_path / "tasks_primary.txt"
    lines = path.read_text().splitlines()
    lines[9] = "9"  # second block (lines 7-11): declared number of steps
    path.write_text("\n".join(lines))
    with pytest.raises(AnnotationError, match=rf"tasks_primary.txt: line 11: task '{crosstask_task_id(1)}' declares 9 steps but lists 4"):
        load_crosstask(tmp_path)


def test_crosstask_malformed_rows_name_file_and_line(tmp_path):
    write_crosstask(tmp_path)
    crosstask = load_crosstask(tmp_path)
    task, video = crosstask_task_id(0), youtube_id("ct", 1)
    path = tmp_path / "annotations" / f"{task}_{video}.csv"
    path.write_text("1,0.5,4.0\n2,5.0\n")
    with pytest.raises(AnnotationError, match=rf"{task}_{video}.csv: line 2: expected 3"):
        crosstask.annotations(task, video)
    path.write_text("1,0.5,4.0\n\n7,5.0,6.0\n")
    with pytest.raises(AnnotationError, match=r"line 3: step 7 outside 1..3"):
        crosstask.annotations(task, video)
    path.write_text("1,4.5,4.0\n")
    with pytest.raises(AnnotationError, match=r"line 1: end 4.0 is before start 4.5"):
        crosstask.annotations(task, video)
    path.unlink()
    with pytest.raises(FileNotFoundError, match=f"{task}_{video}.csv"):
        crosstask_clips(crosstask)
    with open(tmp_path / "videos.csv", "a") as fh:
        fh.write("16815,onlytwo\n")
    with pytest.raises(AnnotationError, match=r"videos.csv: line 8"):
        load_crosstask(tmp_path)


# ------------------------------------------------------------------------------------------- COIN
def test_coin_videos_and_clips(tmp_path):
    expected = write_coin(tmp_path, train_videos=2, test_videos=2, validation_videos=1, segments_per_video=2)
    videos = load_coin(tmp_path)
    assert [v.subset for v in videos] == ["train", "train", "test", "test", "test"]
    assert [v.recipe_type for v in videos] == [40, 41, 42, 43, 44]
    third = videos[2]
    assert third.video_id == youtube_id("co", 2) and third.duration == 45.0
    assert third.segments == [(3.0, 11.5, coin_step_id(2, 0), f"coin step {coin_step_id(2, 0)}"),
                              (23.0, 31.5, coin_step_id(2, 1), f"coin step {coin_step_id(2, 1)}")]
    assert all(type(step) is int for v in videos for _, _, step, _ in v.segments)
    assert per_split(coin_clips(videos)) == expected


@pytest.mark.parametrize("bad_id", ["12a", "", None, -3])
def test_coin_bad_step_id_names_video_and_segment(tmp_path, bad_id):
    write_coin(tmp_path)
    video = youtube_id("co", 1)
    edit_json(tmp_path / "COIN.json", lambda d: d["database"][video]["annotation"][1].update(id=bad_id))
    with pytest.raises(AnnotationError, match=rf"COIN.json: video '{video}' segment 1: step id"):
        load_coin(tmp_path)


# ----------------------------------------------------------------------------------------- splits
def _clips_of(videos: int, per_video: int, split: str) -> list[Clip]:
    return [Clip(f"{split}{v}", float(k), k + 1.0, f"t{v}.{k}", split) for v in range(videos) for k in range(per_video)]


def test_hold_out_validation_moves_whole_training_videos(tmp_path):
    clips = _clips_of(20, 3, "train") + _clips_of(4, 2, "test")
    original = list(clips)
    held = hold_out_validation(clips, fraction=0.25, seed=7)
    assert clips == original  # input untouched
    assert len(held) == len(clips)
    val_videos = {c.video_id for c in held if c.split == "val"}
    assert len(val_videos) == 5
    assert not val_videos & {c.video_id for c in held if c.split == "train"}
    assert [c for c in held if c.split == "test"] == [c for c in clips if c.split == "test"]
    assert [(c.video_id, c.start, c.end, c.text) for c in held] == [(c.video_id, c.start, c.end, c.text) for c in clips]
    assert hold_out_validation(list(reversed(clips)), 0.25, 7)[::-1] == held  # depends on ids, not order
    selections = {frozenset(c.video_id for c in hold_out_validation(clips, 0.25, s) if c.split == "val") for s in range(10)}
    assert len(selections) > 1


def test_hold_out_validation_bounds():
    assert sum(c.split == "val" for c in hold_out_validation(_clips_of(3, 1, "train"), 0.01, 0)) == 1
    assert sum(c.split == "val" for c in hold_out_validation(_clips_of(3, 1, "train"), 0.99, 0)) == 2
    with pytest.raises(ValueError, match="fraction"):
        hold_out_validation(_clips_of(3, 1, "train"), 1.0, 0)
    with pytest.raises(ValueError, match="1 training video"):
        hold_out_validation(_clips_of(1, 4, "train"), 0.5, 0)


def test_split_summary_counts_every_split():
    clips = _clips_of(3, 2, "train") + _clips_of(2, 1, "test") + [Clip("test0", 0.0, 1.0, "again", "test")]
    assert split_summary(clips) == {
        "train": {"videos": 3, "clips": 6, "captions": 6},
        "val": {"videos": 0, "clips": 0, "captions": 0},
        "test": {"videos": 2, "clips": 2, "captions": 3},
    }


# -------------------------------------------------------------------------------------- registry
def test_load_clips_dispatches_with_options(tmp_path):
    assert set(CLIP_LOADERS) == {"youcook2", "msrvtt", "activitynet", "howto100m"}
    writers = {"youcook2": write_youcook2, "activitynet": write_activitynet, "howto100m": write_howto100m}
    for name, writer in writers.items():
        expected = writer(tmp_path / name)
        assert per_split(load_clips(name, tmp_path / name)) == expected
    expected = write_msrvtt(tmp_path / "msrvtt")
    assert per_split(load_clips("msrvtt", tmp_path / "msrvtt", split="split2")) == expected["split2"]


def test_load_clips_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'kinetics'.*activitynet, howto100m, msrvtt, youcook2"):
        load_clips("kinetics", tmp_path)
    with pytest.raises(FileNotFoundError, match="absent"):
        load_clips("youcook2", tmp_path / "absent")
    (tmp_path / "raw_caption.json").write_text(json.dumps({"v": {"text": ["too short"], "start": [0], "end": [2]}}))
    with pytest.raises(ValueError, match=rf"dataset howto100m at {tmp_path} has no clips"):
        load_clips("howto100m", tmp_path)
