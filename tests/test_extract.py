"""Video decoding, the three feature networks and the extraction stage, on fabricated mp4 files."""
from __future__ import annotations

import dataclasses
import math
import re

import av
import numpy as np
import pytest
import torch
from torch import nn

from taco.features import extract as extract_module
from taco.features.extract import (
    EXTRACTORS,
    ExtractionError,
    WeightsError,
    extract_dataset,
    extract_video,
    load_weights,
)
from taco.features.resnet2d import ResNet2D
from taco.features.resnext3d import ResNeXt3D
from taco.features.s3d import S3D, same_max_pool3d, space_to_depth
from taco.features.store import FEATURE_RATES
from taco.features.video_io import (
    VideoDecodeError,
    center_crop,
    read_video,
    resize_shorter_side,
    resized_shape,
)

FRAME_SIZE = 32  # tiny frames for the tiny networks (S3D downsamples space by 32)


def gray_level(index: int) -> int:
    return (20 + 7 * index) % 250


def write_video(path, frames: int, fps: int, width: int = 64, height: int = 48, codec: str = "libx264"):
    """An mp4 whose frame i is uniformly gray_level(i), with a moving bright column."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.full((height, width, 3), gray_level(i), np.uint8)
            if codec != "libx264":
                image[:, (3 * i) % width, 1] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    good = {
        "ramp10": (write_video(folder / "ramp10.mp4", 30, 10), 3.0),       # 3 s at 10 fps
        "ramp25": (write_video(folder / "ramp25.mp4", 87, 25), 3.48),      # 3.48 s at 25 fps
        "mpeg4": (write_video(folder / "mpeg4.mp4", 40, 20, 48, 64, "mpeg4"), 2.0),  # portrait
    }
    garbage = folder / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(good["ramp10"][0].read_bytes()[:600])
    return {"good": good, "garbage": garbage, "truncated": truncated}


def randomise_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN statistics and affine terms, so that no feature is trivially zero; eval mode."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.weight.data = 0.5 + torch.rand(n, generator=generator)
            module.bias.data = 0.1 * torch.randn(n, generator=generator)
            module.running_mean = 0.1 * torch.randn(n, generator=generator)
            module.running_var = 0.5 + torch.rand(n, generator=generator)
    return model.eval()


def tiny_model(feature_type: str) -> nn.Module:
    torch.manual_seed(0)
    model = {
        "r152": lambda: ResNet2D((1, 1, 1, 1), base_width=4),
        "i3d_x101": lambda: ResNeXt3D((1, 1, 1, 1), planes=(8, 16, 32, 64), stem_width=8, cardinality=4),
        "s3d_hm": lambda: S3D(width_divisor=16),
    }[feature_type]()
    return randomise_norms(model)


class RecordingModel(nn.Module):
    """Returns each input's per-channel mean and keeps the inputs it saw."""

    def __init__(self):
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.clone())
        return x.flatten(2).mean(-1)


# ---------------------------------------------------------------- decoding


def test_read_video_picks_the_nearest_frame_at_the_target_rate(videos):
    path, duration = videos["good"]["ramp10"]
    video = read_video(path, fps=24, shorter_side=48)
    assert video.duration == pytest.approx(duration)
    assert video.frames.dtype == torch.uint8
    assert tuple(video.frames.shape) == (72, 48, 64, 3)  # ceil(3 s * 24), no resize needed
    source_times = np.arange(30) / 10
    for k, frame in enumerate(video.frames):
        gaps = np.abs(source_times - k / 24)
        expected = int(np.flatnonzero(np.isclose(gaps, gaps.min()))[0])  # the earlier one on a tie
        assert abs(frame.float().mean().item() - gray_level(expected)) <= 2, k


@pytest.mark.parametrize("fps", [1, 16])
def test_read_video_frame_count_is_ceil_of_duration_times_fps(videos, fps):
    for path, duration in videos["good"].values():
        video = read_video(path, fps=fps, shorter_side=FRAME_SIZE)
        assert video.duration == pytest.approx(duration)
        assert len(video.frames) == math.ceil(duration * fps - 1e-9)


def test_read_video_resizes_the_shorter_side_and_crops_the_center(videos):
    landscape = read_video(videos["good"]["ramp10"][0], 1, 24).frames  # 64x48 source
    portrait = read_video(videos["good"]["mpeg4"][0], 1, 24).frames    # 48x64 source
    assert tuple(landscape.shape[1:]) == (24, 32, 3)
    assert tuple(portrait.shape[1:]) == (32, 24, 3)
    cropped = read_video(videos["good"]["ramp10"][0], 1, 24, crop=16).frames
    assert tuple(cropped.shape[1:]) == (16, 16, 3)
    assert torch.equal(cropped, landscape[:, 4:20, 8:24])


def test_resize_helpers_match_hand_computed_values():
    assert resized_shape(480, 640, 224) == (224, 298)
    assert resized_shape(1080, 720, 112) == (168, 112)
    constant = torch.full((48, 64, 3), 77, dtype=torch.uint8)
    assert torch.all(resize_shorter_side(constant, 12) == 77)
    frame = torch.arange(5 * 7).reshape(5, 7, 1).expand(5, 7, 3)
    assert center_crop(frame, 3)[:, :, 0].tolist() == [[9, 10, 11], [16, 17, 18], [23, 24, 25]]


@pytest.mark.parametrize("name", ["garbage", "truncated"])
def test_unreadable_video_raises_decode_error_naming_the_file(videos, name):
    with pytest.raises(VideoDecodeError, match=re.escape(str(videos[name]))):
        read_video(videos[name], 1, FRAME_SIZE)


def test_missing_video_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mp4"):
        read_video(tmp_path / "nothere.mp4", 1, FRAME_SIZE)


# ---------------------------------------------------------------- networks: layouts of the released weights


def layer_block_counts(keys) -> list[int]:
    return [len({int(m.group(1)) for k in keys if (m := re.match(rf"layer{i}\.(\d+)\.", k))}) for i in range(1, 5)]


def test_resnet152_matches_the_torchvision_layout():
    with torch.device("meta"):
        model = ResNet2D()
    state = model.state_dict()
    assert tuple(state["conv1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(state["fc.weight"].shape) == (1000, 2048) and tuple(state["fc.bias"].shape) == (1000,)
    assert layer_block_counts(state) == [3, 8, 36, 3]
    assert {"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"} <= set(state)
    downsampled = {k.split(".downsample")[0] for k in state if ".downsample." in k}
    assert downsampled == {f"layer{i}.0" for i in range(1, 5)}
    assert tuple(state["layer2.0.conv2.weight"].shape) == (128, 128, 3, 3)  # the stride sits in conv2
    assert model.layer2[0].conv2.stride == (2, 2) and model.layer2[0].conv1.stride == (1, 1)
    assert sum(p.numel() for p in model.parameters()) == 60_192_808  # torchvision's published count
    assert tuple(model.features(torch.empty(1, 3, 224, 298, device="meta")).shape) == (1, 2048)


def test_resnext101_matches_the_hara_layout():
    with torch.device("meta"):
        model = ResNeXt3D()
    state = model.state_dict()
    assert tuple(state["conv1.weight"].shape) == (64, 3, 7, 7, 7)
    assert tuple(state["fc.weight"].shape) == (400, 2048)
    assert layer_block_counts(state) == [3, 4, 23, 3]
    assert "layer4.2.bn3.running_var" in state and "layer4.3.conv1.weight" not in state
    assert tuple(state["layer1.0.conv2.weight"].shape) == (128, 128 // 32, 3, 3, 3)  # cardinality 32
    assert tuple(state["layer4.0.downsample.0.weight"].shape) == (2048, 1024, 1, 1, 1)  # shortcut type B
    assert tuple(model.features(torch.empty(2, 3, 16, 112, 112, device="meta")).shape) == (2, 2048)


def test_s3d_matches_the_mil_nce_release_layout():
    with torch.device("meta"):
        model = S3D()
    state = model.state_dict()
    mixed = [f"mixed_{name}" for name in ("3b", "3c", "4b", "4c", "4d", "4e", "4f", "5b", "5c")]
    assert {k.split(".")[0] for k in state} == {"conv1", "conv_2b", "conv_2c", "gating", "fc", *mixed}
    assert tuple(state["conv1.conv1.weight"].shape) == (64, 24, 2, 4, 4)
    assert tuple(state["fc.weight"].shape) == (512, 1024)
    assert {"conv_2c.conv2.weight", "conv_2c.bn2.running_mean", "gating.fc.weight"} <= set(state)
    branches = ("conv_b0", "conv_b1_a", "conv_b1_b", "conv_b2_a", "conv_b2_b", "conv_b3_b")
    for block in mixed:
        assert {k.split(".")[1] for k in state if k.startswith(block + ".")} == {
            *branches, "gating_b0", "gating_b1", "gating_b2", "gating_b3"}
        separable = {k.split(".")[1] for k in state if k.startswith(block + ".") and ".conv2." in k}
        assert separable == {"conv_b1_b", "conv_b2_b"}
    assert model.IGNORED_WEIGHT_PREFIXES == ("text_module.",)
    assert tuple(model.features(torch.empty(1, 3, 16, 224, 224, device="meta")).shape) == (1, 1024)


def test_space_to_depth_matches_a_naive_loop():
    video = torch.randn(2, 3, 4, 6, 8)
    out = space_to_depth(video)
    naive = torch.empty(2, 24, 2, 3, 4)
    for dt in range(2):
        for dh in range(2):
            for dw in range(2):
                for c in range(3):
                    naive[:, ((dt * 2 + dh) * 2 + dw) * 3 + c] = video[:, c, dt::2, dh::2, dw::2]
    assert torch.equal(out, naive)
    with pytest.raises(ValueError, match="even"):
        space_to_depth(torch.zeros(1, 3, 3, 4, 4))


def test_same_max_pool_pads_after_and_uses_ceil_mode():
    x = torch.arange(16.0).reshape(1, 1, 1, 4, 4)
    out = same_max_pool3d(x, (1, 3, 3), (1, 2, 2))
    assert out[0, 0, 0].tolist() == [[10.0, 11.0], [14.0, 15.0]]
    y = torch.arange(27.0).reshape(1, 1, 3, 3, 3)  # 2x2x2 stride 2, no padding, ceil mode keeps the edge
    assert same_max_pool3d(y, (2, 2, 2), (2, 2, 2)).flatten().tolist() == [13.0, 14.0, 16.0, 17.0,
                                                                           22.0, 23.0, 25.0, 26.0]


# ---------------------------------------------------------------- weight loading


def test_load_weights_strips_module_prefix_and_tolerates_missing_batch_counters(tmp_path):
    source = tiny_model("r152")
    state = {f"module.{k}": v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "w.pth")
    target = ResNet2D((1, 1, 1, 1), base_width=4)
    load_weights(target, tmp_path / "w.pth")
    for key, value in source.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(target.state_dict()[key], value), key


def test_load_weights_ignores_the_s3d_text_module(tmp_path):
    source = tiny_model("s3d_hm")
    state = dict(source.state_dict())
    state["text_module.word_embd.weight"] = torch.zeros(10, 300)
    state["text_module.fc1.weight"] = torch.zeros(2048, 300)
    torch.save(state, tmp_path / "s3d.pth")
    target = S3D(width_divisor=16)
    load_weights(target, tmp_path / "s3d.pth")
    assert torch.equal(target.conv1.conv1.weight, source.conv1.conv1.weight)


def test_load_weights_lists_missing_unexpected_and_mismatched_keys(tmp_path):
    state = dict(tiny_model("r152").state_dict())
    del state["layer3.0.conv1.weight"]
    state["head.weight"] = torch.zeros(3)
    state["fc.weight"] = torch.zeros(7, 128)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError) as caught:
        load_weights(ResNet2D((1, 1, 1, 1), base_width=4), tmp_path / "bad.pth")
    message = str(caught.value)
    assert "bad.pth" in message
    assert "missing keys (1): layer3.0.conv1.weight" in message
    assert "unexpected keys (1): head.weight" in message
    assert "fc.weight (file (7, 128), model (1000, 128))" in message


def test_load_weights_rejects_unreadable_files(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pth"):
        load_weights(ResNet2D((1, 1, 1, 1), base_width=4), tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_weights(ResNet2D((1, 1, 1, 1), base_width=4), tmp_path / "absent.pth")


# ---------------------------------------------------------------- extraction


def expected_rows(duration: float, feature_type: str) -> int:
    spec = EXTRACTORS[feature_type]
    frames = math.ceil(duration * spec.fps - 1e-9)
    return math.ceil(frames / spec.frames_per_row)


def test_rows_per_second_are_the_published_rates():
    assert {name: spec.rows_per_second for name, spec in EXTRACTORS.items()} == FEATURE_RATES
    assert {name: spec.build_model for name, spec in EXTRACTORS.items()} == {
        "r152": ResNet2D, "i3d_x101": ResNeXt3D, "s3d_hm": S3D}


@pytest.mark.parametrize("feature_type", ["r152", "i3d_x101", "s3d_hm"])
def test_extract_video_gives_one_row_per_sampling_unit(videos, feature_type):
    model = tiny_model(feature_type)
    for name in ("ramp10", "ramp25"):
        path, duration = videos["good"][name]
        features = extract_video(path, feature_type, model, "cpu", batch_size=2, frame_size=FRAME_SIZE)
        assert features.dtype == np.float32
        assert features.shape == (expected_rows(duration, feature_type), model.feature_dim), name
        assert np.isfinite(features).all()
    # r152: 3 and 4 rows (1/s); i3d_x101: 5 and 6 (1.5/s); s3d_hm: 3 and 4 (1/s)
    assert [expected_rows(d, feature_type) for d in (3.0, 3.48)] == {
        "r152": [3, 4], "i3d_x101": [5, 6], "s3d_hm": [3, 4]}[feature_type]


def test_extract_video_is_deterministic_and_independent_of_batch_size(videos):
    model = tiny_model("i3d_x101")
    path = videos["good"]["ramp25"][0]
    first = extract_video(path, "i3d_x101", model, "cpu", batch_size=4, frame_size=FRAME_SIZE)
    again = extract_video(path, "i3d_x101", model, "cpu", batch_size=4, frame_size=FRAME_SIZE)
    one_by_one = extract_video(path, "i3d_x101", model, "cpu", batch_size=1, frame_size=FRAME_SIZE)
    assert np.array_equal(first, again)
    np.testing.assert_allclose(first, one_by_one, rtol=1e-4, atol=1e-5)


def test_r152_input_is_scaled_and_imagenet_normalised(videos):
    path = videos["good"]["ramp25"][0]
    recorder = RecordingModel()
    features = extract_video(path, "r152", recorder, "cpu", batch_size=3, frame_size=FRAME_SIZE)
    seen = torch.cat(recorder.inputs)
    frames = read_video(path, 1, FRAME_SIZE).frames.float()
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    expected = ((frames / 255 - mean) / std).permute(0, 3, 1, 2)
    assert tuple(seen.shape) == (4, 3, FRAME_SIZE, 42)  # 4 frames, no crop
    torch.testing.assert_close(seen, expected)
    assert [len(x) for x in recorder.inputs] == [3, 1]
    assert features.shape == (4, 3)


def test_i3d_input_is_mean_subtracted_clips_with_zero_padded_frames(videos):
    path = videos["good"]["ramp10"][0]  # 72 frames at 24 fps -> 4 full clips + 8 frames, padded by 8
    recorder = RecordingModel()
    extract_video(path, "i3d_x101", recorder, "cpu", frame_size=FRAME_SIZE)
    seen = torch.cat(recorder.inputs)
    assert tuple(seen.shape) == (5, 3, 16, FRAME_SIZE, FRAME_SIZE)
    mean = torch.tensor([110.6, 103.2, 96.3])
    frames = read_video(path, 24, FRAME_SIZE, FRAME_SIZE).frames.float()
    real = (frames - mean).permute(3, 0, 1, 2)  # (3, 72, H, W), no /255
    torch.testing.assert_close(seen.permute(1, 0, 2, 3, 4).reshape(3, 80, FRAME_SIZE, FRAME_SIZE)[:, :72], real)
    padded = seen[4, :, 8:]
    torch.testing.assert_close(padded, (-mean).view(3, 1, 1, 1).expand_as(padded))


def test_s3d_input_is_in_unit_range_with_zero_padded_windows(videos):
    path = videos["good"]["ramp25"][0]  # ceil(3.48 * 16) = 56 frames -> 3 windows + 8 frames, padded by 8
    recorder = RecordingModel()
    extract_video(path, "s3d_hm", recorder, "cpu", frame_size=FRAME_SIZE)
    seen = torch.cat(recorder.inputs)
    assert tuple(seen.shape) == (4, 3, 16, FRAME_SIZE, FRAME_SIZE)
    frames = read_video(path, 16, FRAME_SIZE, FRAME_SIZE).frames.float() / 255
    torch.testing.assert_close(seen.permute(0, 2, 3, 4, 1).reshape(64, FRAME_SIZE, FRAME_SIZE, 3)[:56], frames)
    assert torch.count_nonzero(seen[3, :, 8:]) == 0


def test_extract_dataset_writes_normalised_float16_and_skips_existing(videos, tmp_path):
    paths = [videos["good"][name][0] for name in ("ramp10", "ramp25")]
    model = tiny_model("r152")
    summary = extract_dataset(paths, tmp_path, "r152", model=model, progress=False, frame_size=FRAME_SIZE)
    assert (summary.written, summary.existing, summary.failed) == (2, 0, [])
    for name, rows in (("ramp10", 3), ("ramp25", 4)):
        array = np.load(tmp_path / f"{name}.npy")
        assert array.dtype == np.float16 and array.shape == (rows, model.feature_dim)
        np.testing.assert_allclose(np.linalg.norm(array.astype(np.float32), axis=1), 1.0, atol=2e-3)
        raw = extract_video(videos["good"][name][0], "r152", model, frame_size=FRAME_SIZE)
        np.testing.assert_allclose(array, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=2e-3)
    stamp = (tmp_path / "ramp10.npy").stat().st_mtime_ns
    again = extract_dataset(paths, tmp_path, "r152", model=model, progress=False, frame_size=FRAME_SIZE)
    assert (again.written, again.existing) == (0, 2)
    assert (tmp_path / "ramp10.npy").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramp10.npy", "ramp25.npy"]


def test_extract_dataset_logs_failures_with_skip_errors(videos, tmp_path):
    paths = [videos["garbage"], videos["good"]["ramp10"][0], videos["truncated"]]
    summary = extract_dataset(paths, tmp_path, "s3d_hm", model=tiny_model("s3d_hm"), skip_errors=True,
                              progress=False, frame_size=FRAME_SIZE)
    assert summary.written == 1 and summary.failed == [str(videos["garbage"]), str(videos["truncated"])]
    lines = (tmp_path / "failed_videos.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == summary.failed
    assert all("VideoDecodeError" in line for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failed_videos.txt", "ramp10.npy"]


def test_extract_dataset_without_skip_errors_raises_naming_the_video(videos, tmp_path):
    paths = [videos["good"]["ramp10"][0], videos["garbage"]]
    with pytest.raises(ExtractionError, match="video 'garbage'"):
        extract_dataset(paths, tmp_path, "r152", model=tiny_model("r152"), progress=False, frame_size=FRAME_SIZE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramp10.npy"]


def test_extract_dataset_rejects_duplicate_video_ids_and_ambiguous_models(videos, tmp_path):
    (tmp_path / "a").mkdir()
    copy = tmp_path / "a" / "ramp10.mp4"
    copy.write_bytes(videos["good"]["ramp10"][0].read_bytes())
    with pytest.raises(ExtractionError, match="share the video id 'ramp10'"):
        extract_dataset([videos["good"]["ramp10"][0], copy], tmp_path / "out", "r152", model=tiny_model("r152"))
    with pytest.raises(ValueError, match="exactly one"):
        extract_dataset([copy], tmp_path / "out", "r152")


def test_command_line_loads_weights_and_writes_features(videos, tmp_path, monkeypatch):
    tiny = dataclasses.replace(EXTRACTORS["r152"], shorter_side=FRAME_SIZE,
                               build_model=lambda: ResNet2D((1, 1, 1, 1), base_width=4))
    monkeypatch.setitem(EXTRACTORS, "r152", tiny)
    torch.save(tiny_model("r152").state_dict(), tmp_path / "tiny.pth")
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "clipA.mp4").write_bytes(videos["good"]["ramp10"][0].read_bytes())
    (folder / "notes.txt").write_text("not a video")
    extract_module.main(["--videos", str(folder), "--out", str(tmp_path / "out"), "--type", "r152",
                         "--weights", str(tmp_path / "tiny.pth")])
    assert np.load(tmp_path / "out" / "clipA.npy").shape == (3, 128)
