"""Feature store: clip rows (docs/data_formats.md), token sampling, multi-rate alignment, padding, errors."""
import pickle

import numpy as np
import pytest
import torch

from taco.features import store as store_module
from taco.features.store import (
    FeatureError,
    FeatureStore,
    clip_rows,
    feature_path,
    pad_batch,
    parse_feature_spec,
    write_features,
)


def one_hot_rows(rows: int, width: int | None = None) -> np.ndarray:
    """Row i is the unit vector e_i: survives L2 normalisation and float16, and names its row."""
    return np.eye(rows, width or rows, dtype=np.float32)


def decode_rows(block: np.ndarray) -> list[int]:
    return np.argmax(block, axis=1).tolist()


@pytest.fixture
def root(tmp_path):
    return tmp_path / "dataset"


def test_parse_feature_spec_keeps_order_and_rejects_unknown_or_repeated_types():
    assert parse_feature_spec("r152+s3d_hm") == ["r152", "s3d_hm"]
    assert parse_feature_spec("i3d_x101") == ["i3d_x101"]
    with pytest.raises(FeatureError, match=r"unknown feature type 'resnet'.*r152, s3d_hm, i3d_x101"):
        parse_feature_spec("r152+resnet")
    with pytest.raises(FeatureError, match="unknown feature type ''"):
        parse_feature_spec("r152+")
    with pytest.raises(FeatureError, match="twice"):
        parse_feature_spec("r152+r152")


def test_clip_rows_follow_the_published_rule_on_a_hand_example(root):
    # rate 1.5: int(2.3 * 1.5) = int(3.45) = 3, int(5.9 * 1.5) + 1 = int(8.85) + 1 = 9 -> rows 3..8
    write_features(feature_path(root, "i3d_x101", "v"), one_hot_rows(12))
    clip = FeatureStore(root, "i3d_x101").clip("v", 2.3, 5.9, max_tokens=100)
    assert clip.dtype == np.float32
    assert decode_rows(clip) == [3, 4, 5, 6, 7, 8]


def test_clip_rows_are_clamped_to_the_video_length(root):
    write_features(feature_path(root, "r152", "v"), one_hot_rows(5))
    store = FeatureStore(root, "r152")
    assert decode_rows(store.clip("v", 3.2, 100.0, max_tokens=10)) == [3, 4]
    assert decode_rows(store.clip("v", 4.0, 4.0, max_tokens=10)) == [4]


@pytest.mark.parametrize("rows,max_tokens", [(40, 7), (60, 48), (49, 48), (100, 2), (13, 4), (10, 10), (5, 48)])
def test_token_sampling_keeps_ends_and_is_evenly_spaced(rows, max_tokens):
    picked = clip_rows(0.0, rows - 0.5, rate=1.0, length=rows, max_tokens=max_tokens)
    assert len(picked) == min(rows, max_tokens)
    assert picked[0] == 0 and picked[-1] == rows - 1
    assert np.all(np.diff(picked) > 0)
    if rows > max_tokens:
        ideal = np.arange(max_tokens) * (rows - 1) / (max_tokens - 1)
        assert np.abs(picked - ideal).max() <= 0.5
        gaps = np.diff(picked)
        assert gaps.max() - gaps.min() <= 1


def test_token_sampling_through_the_store_keeps_first_and_last_row_of_the_clip(root):
    write_features(feature_path(root, "r152", "v"), one_hot_rows(40))
    rows = decode_rows(FeatureStore(root, "r152").clip("v", 5.0, 30.2, max_tokens=6))  # rows 5..30
    assert rows[0] == 5 and rows[-1] == 30 and len(rows) == 6
    assert max(np.diff(rows)) - min(np.diff(rows)) <= 1


def test_combination_aligns_other_types_to_the_first_types_time_axis(root):
    # r152 at 1/s: 4 rows of width 4; i3d at 1.5/s: 6 rows of width 6 (widths differ on purpose).
    write_features(feature_path(root, "r152", "v"), one_hot_rows(4))
    write_features(feature_path(root, "i3d_x101", "v"), one_hot_rows(6))

    store = FeatureStore(root, "r152+i3d_x101")
    assert store.dim == 10 and store.rate == 1.0
    combined = store.video("v")
    assert combined.shape == (4, 10)
    # base centres 0.5, 1.5, 2.5, 3.5 s fall in i3d rows floor(1.5 * c) = 0, 2, 3, 5
    assert decode_rows(combined[:, :4]) == [0, 1, 2, 3]
    assert decode_rows(combined[:, 4:]) == [0, 2, 3, 5]

    reverse = FeatureStore(root, "i3d_x101+r152")
    assert reverse.rate == 1.5
    # base centres (i + 0.5) / 1.5 = 1/3, 1, 5/3, 7/3, 3, 11/3 s fall in r152 rows 0, 1, 1, 2, 3, 3
    # (1 s and 3 s lie on a boundary: intervals are half-open, so the later row)
    assert decode_rows(reverse.video("v")[:, 6:]) == [0, 1, 1, 2, 3, 3]
    # a clip uses the base rate for its rows: [1, 2] s at 1.5/s -> i3d rows 1..3
    clip = reverse.clip("v", 1.0, 2.0, max_tokens=10)
    assert decode_rows(clip[:, :6]) == [1, 2, 3]
    assert decode_rows(clip[:, 6:]) == [1, 1, 2]


def test_combination_clamps_to_the_shorter_types_last_row(root):
    write_features(feature_path(root, "r152", "v"), one_hot_rows(4))
    write_features(feature_path(root, "i3d_x101", "v"), one_hot_rows(4, 6))  # only 4 rows: 0..3
    assert decode_rows(FeatureStore(root, "r152+i3d_x101").video("v")[:, 4:]) == [0, 2, 3, 3]


def test_pad_batch_pads_with_zeros_and_masks_real_rows():
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(n, 3)).astype(np.float32) for n in (2, 5, 3)]
    values, mask = pad_batch(clips)
    assert values.dtype == torch.float32 and mask.dtype == torch.bool
    assert values.shape == (3, 5, 3)
    assert mask.sum(dim=1).tolist() == [2, 5, 3]
    for k, clip in enumerate(clips):
        assert torch.equal(values[k, : len(clip)], torch.from_numpy(clip))
        assert mask[k, : len(clip)].all() and not mask[k, len(clip):].any()
        assert not values[k, len(clip):].any()

    fixed, fixed_mask = pad_batch(clips, max_tokens=6)
    assert fixed.shape == (3, 6, 3) and fixed_mask.shape == (3, 6)
    assert torch.equal(fixed[:, :5], values)

    with pytest.raises(ValueError, match="clip 1 has 5 rows, more than max_tokens=4"):
        pad_batch(clips, max_tokens=4)
    with pytest.raises(ValueError, match=r"clip 1 has shape \(2, 4\)"):
        pad_batch([clips[0], np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match="at least one clip"):
        pad_batch([])


def test_single_type_video_is_a_cached_memmap_and_the_cache_is_bounded(root):
    for video_id in ("a", "b"):
        write_features(feature_path(root, "s3d_hm", video_id), np.ones((3, 4)))
    store = FeatureStore(root, "s3d_hm", cache_size=1)
    first = store.video("a")
    assert isinstance(first, np.memmap) and first.dtype == np.float16
    assert store.video("a") is first
    store.video("b")  # evicts "a"
    reopened = store.video("a")
    assert reopened is not first and np.array_equal(reopened, first)


def test_store_pickles_without_its_open_maps(root):
    write_features(feature_path(root, "r152", "v"), one_hot_rows(1000, 64))  # 128 kB of float16
    store = FeatureStore(root, "r152")
    store.video("v")
    payload = pickle.dumps(store)
    assert len(payload) < 10_000  # an open map would be pickled with its data
    copy = pickle.loads(payload)
    assert decode_rows(copy.clip("v", 0.0, 4.0, max_tokens=10)) == [0, 1, 2, 3, 4]


def test_write_features_normalises_rows_to_float16_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "r152" / "v.npy"
    raw = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    write_features(path, raw)
    saved = np.load(path)
    assert saved.dtype == np.float16 and saved.shape == (3, 3)
    np.testing.assert_allclose(saved[0], [0.6, 0.8, 0.0], atol=1e-3)
    np.testing.assert_array_equal(saved[1], 0)  # an all-zero row stays zero, not NaN
    np.testing.assert_allclose(np.linalg.norm(saved[2].astype(np.float32)), 1.0, atol=1e-3)
    assert [p.name for p in path.parent.iterdir()] == ["v.npy"]


def test_write_features_failure_keeps_the_old_file_and_no_partial_output(tmp_path, monkeypatch):
    path = tmp_path / "v.npy"
    write_features(path, np.ones((2, 2)))
    with pytest.raises(FeatureError, match=r"v.npy': row 1 holds NaN or inf"):
        write_features(path, np.array([[1.0, 0.0], [np.nan, 1.0]]))
    with pytest.raises(FeatureError, match="non-empty"):
        write_features(path, np.zeros((0, 2)))

    def failing_save(handle, array):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(store_module.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_features(path, np.ones((4, 2)))
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["v.npy"]
    np.testing.assert_allclose(np.load(path), np.full((2, 2), 2 ** -0.5), atol=1e-3)


def test_missing_file_or_folder_is_an_error_naming_the_video_and_path(root):
    with pytest.raises(FeatureError, match=r"feature folder '.*features/r152' for type 'r152' does not exist"):
        FeatureStore(root, "r152")
    write_features(feature_path(root, "r152", "v"), one_hot_rows(3))
    store = FeatureStore(root, "r152")
    with pytest.raises(FeatureError, match=r"video 'w'.*features/r152/w\.npy' does not exist"):
        store.clip("w", 0.0, 1.0, max_tokens=4)
    write_features(feature_path(root, "s3d_hm", "other"), one_hot_rows(3))
    with pytest.raises(FeatureError, match=r"video 'v'.*features/s3d_hm/v\.npy' does not exist"):
        FeatureStore(root, "r152+s3d_hm").video("v")


def test_file_of_another_width_is_an_error(root):
    write_features(feature_path(root, "r152", "good"), one_hot_rows(3, 4))
    store = FeatureStore(root, "r152")  # width 4, read from good.npy
    write_features(feature_path(root, "r152", "wide"), one_hot_rows(3, 6))
    with pytest.raises(FeatureError, match=r"video 'wide'.*wide\.npy' has width 6, but 'r152' features are 4-d"):
        store.clip("wide", 0.0, 1.0, max_tokens=4)


def test_non_finite_rows_are_an_error_only_where_a_clip_reads_them(root):
    values = one_hot_rows(6).astype(np.float16)
    values[4, 2] = np.nan
    path = feature_path(root, "s3d_hm", "v")
    path.parent.mkdir(parents=True)
    np.save(path, values)
    store = FeatureStore(root, "s3d_hm")
    assert decode_rows(store.clip("v", 0.0, 3.0, max_tokens=10)) == [0, 1, 2, 3]
    with pytest.raises(FeatureError, match=r"video 'v'.*s3d_hm/v\.npy' row 4 holds NaN or inf"):
        store.clip("v", 3.0, 5.0, max_tokens=10)
    values[4, 2] = np.inf
    np.save(path, values)
    with pytest.raises(FeatureError, match="row 4 holds NaN or inf"):
        FeatureStore(root, "s3d_hm").clip("v", 0.0, 5.0, max_tokens=10)


def test_clip_starting_beyond_the_video_or_malformed_is_an_error(root):
    write_features(feature_path(root, "i3d_x101", "v"), one_hot_rows(6))  # 6 rows = 4 s at 1.5/s
    store = FeatureStore(root, "i3d_x101")
    assert decode_rows(store.clip("v", 3.9, 10.0, max_tokens=4)) == [5]
    with pytest.raises(FeatureError, match=r"video 'v'.*i3d_x101/v\.npy.*starts at row 6, beyond the video's 6 rows"):
        store.clip("v", 4.0, 10.0, max_tokens=4)
    with pytest.raises(FeatureError, match=r"video 'v'.*clip \[3.0, 2.0\] s is not a range"):
        store.clip("v", 3.0, 2.0, max_tokens=4)
    with pytest.raises(FeatureError, match="not a range"):
        store.clip("v", -1.0, 2.0, max_tokens=4)
    with pytest.raises(FeatureError, match="max_tokens must be >= 1"):
        store.clip("v", 0.0, 2.0, max_tokens=0)


def test_zero_length_or_malformed_file_is_an_error(root):
    write_features(feature_path(root, "r152", "good"), one_hot_rows(3))
    store = FeatureStore(root, "r152")
    empty = feature_path(root, "r152", "empty")
    np.save(empty, np.zeros((0, 3), np.float16))
    with pytest.raises(FeatureError, match=r"video 'empty'.*empty\.npy' is a zero-length video"):
        store.video("empty")
    flat = feature_path(root, "r152", "flat")
    np.save(flat, np.zeros(3, np.float16))
    with pytest.raises(FeatureError, match=r"video 'flat'.*flat\.npy' holds a float16 array of shape \(3,\)"):
        store.video("flat")
    broken = feature_path(root, "r152", "broken")
    broken.write_bytes(b"not a numpy file")
    with pytest.raises(FeatureError, match=r"cannot read features of video 'broken' from '.*broken\.npy'"):
        store.video("broken")
    # the only file of a type sets its width: a zero-length one fails already when the store opens
    only = feature_path(root, "s3d_hm", "empty")
    only.parent.mkdir(parents=True)
    np.save(only, np.zeros((0, 3), np.float16))
    with pytest.raises(FeatureError, match=r"video 'empty'.*s3d_hm/empty\.npy' is a zero-length video"):
        FeatureStore(root, "s3d_hm")
