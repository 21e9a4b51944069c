"""COIN with a model: a linear head on the video encoder, trained over windows, tested with averaged logits."""
import json

import numpy as np
import pytest
import torch
from downstream_fixtures import save_run

from taco.cli import main
from taco.data.annotation_io import AnnotationError
from taco.data.coin import load_coin
from taco.downstream.coin import (
    Segmenter,
    evaluate_coin,
    step_classes,
    train_segmenter,
    video_labels,
    video_logits,
)
from taco.downstream.common import per_second_features
from taco.features.store import FeatureStore, feature_path, write_features
from taco.train import load_run

WIDTH = 24
STEP_IDS = ("212", "37", "5")  # string ids as in the release; classes follow the numeric order 5, 37, 212


def write_separable_coin(root, train_videos=6, test_videos=2, seed=0):
    """COIN.json with 3 steps per video (shared ids, jittered times) and s3d_hm features in which each
    second is its label's prototype plus noise: labels are linearly decodable from features."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(len(STEP_IDS) + 1, WIDTH))  # row 0: background
    database = {}
    for index in range(train_videos + test_videos):
        video_id = f"video{index:02d}"
        seconds = int(rng.integers(60, 90))
        annotation, labels = [], np.zeros(seconds, dtype=np.int64)
        for k, step_id in enumerate(STEP_IDS):
            start = 4.0 + 18 * k + float(rng.integers(0, 5)) + 0.5
            end = start + float(rng.integers(6, 12))
            annotation.append({"id": step_id, "segment": [start, end], "label": f"step {step_id}"})
            labels[int(np.floor(start)):int(np.ceil(end))] = sorted(map(int, STEP_IDS)).index(int(step_id)) + 1
        database[video_id] = {"duration": float(seconds), "class": "Task", "video_url": "https://x", "start": 0.0,
                              "end": float(seconds), "recipe_type": 7, "annotation": annotation,
                              "subset": "training" if index < train_videos else "testing"}
        features = prototypes[labels] + 0.3 * rng.normal(size=(seconds, WIDTH))
        write_features(feature_path(root, "s3d_hm", video_id), features)
    (root / "COIN.json").write_text(json.dumps({"database": database}))
    return root


@pytest.fixture(scope="module")
def coin_root(tmp_path_factory):
    return write_separable_coin(tmp_path_factory.mktemp("coin"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    # Position embeddings at BERT's init scale, so the untrained encoder keeps the features' classes.
    return save_run(tmp_path_factory.mktemp("coin_run"), tmp_path_factory.getbasetemp() / "text_cache",
                    max_video_tokens=32, features="s3d_hm", video_dim=WIDTH, position_std=0.02)


def test_classes_and_per_second_labels(coin_root):
    videos = load_coin(coin_root)
    classes = step_classes(videos)
    assert classes == {5: 1, 37: 2, 212: 3}
    video = videos[0]
    labels = video_labels(video, 70, classes)
    for start, end, step_id, _ in video.segments:
        assert (labels[int(np.floor(start)):int(np.ceil(end))] == classes[step_id]).all()
    assert (labels == 0).sum() == 70 - sum(int(np.ceil(e)) - int(np.floor(s)) for s, e, _, _ in video.segments)


def test_test_logits_are_averaged_over_overlapping_stride16_windows(run_dir):
    _, model = load_run(run_dir, [])
    torch.manual_seed(0)
    segmenter = Segmenter(model.video_encoder, 4)
    features = np.random.default_rng(0).normal(size=(70, WIDTH)).astype(np.float32)
    logits = video_logits(segmenter, features, window=32, stride=16)
    starts = [0, 16, 32, 38]  # the last window is aligned to the video's end
    with torch.no_grad():
        per_window = {s: segmenter(torch.from_numpy(features[s:s + 32])[None], torch.ones(1, 32, dtype=torch.bool))[0]
                      for s in starts}
    for t in range(70):
        covering = [per_window[s][t - s] for s in starts if s <= t < s + 32]
        torch.testing.assert_close(torch.from_numpy(logits[t]).float(), torch.stack(covering).mean(0),
                                   atol=1e-5, rtol=1e-5)
    assert len([s for s in starts if s <= 40 < s + 32]) == 3  # second 40: windows at 16, 32 and 38


def test_linear_probe_learns_separable_labels_and_is_reproducible(run_dir, coin_root, tmp_path):
    out = tmp_path / "coin.json"
    result = evaluate_coin(run_dir, coin_root, mode="linear_probe", seed=0, iterations=150, lr=1e-2, out=out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["frame_accuracy"] > 95 > result["background_only_accuracy"] + 20
    assert (result["num_classes"], result["train_videos"], result["test_videos"]) == (4, 6, 2)
    assert (result["mode"], result["seed"], result["features"]) == ("linear_probe", 0, "s3d_hm")
    again = evaluate_coin(run_dir, coin_root, mode="linear_probe", seed=0, iterations=150, lr=1e-2)
    assert (again["frame_accuracy"], again["final_loss"]) == (result["frame_accuracy"], result["final_loss"])
    other = evaluate_coin(run_dir, coin_root, mode="linear_probe", seed=1, iterations=150, lr=1e-2)
    assert other["final_loss"] != result["final_loss"]


def test_linear_probe_freezes_the_encoder_and_finetune_trains_it(run_dir, coin_root):
    _, model = load_run(run_dir, [])
    store = FeatureStore(coin_root, "s3d_hm")
    videos = load_coin(coin_root)
    classes = step_classes(videos)
    data = [(f, video_labels(v, len(f), classes)) for v in videos for f in [per_second_features(store, v.video_id)]]
    for mode in ("linear_probe", "finetune"):
        _, model = load_run(run_dir, [])
        before = {k: v.clone() for k, v in model.video_encoder.state_dict().items()}
        segmenter = Segmenter(model.video_encoder, len(classes) + 1)
        head = {k: v.clone() for k, v in segmenter.head.state_dict().items()}
        losses = train_segmenter(segmenter, data, mode, seed=0, iterations=20, batch_size=4, lr=1e-2, window=32,
                                 stride=8)
        assert len(losses) == 20 and losses[-1] < losses[0]
        changed = [k for k, v in model.video_encoder.state_dict().items() if not torch.equal(v, before[k])]
        assert (changed == []) == (mode == "linear_probe"), changed
        if mode == "finetune":
            assert "embed.project.weight" in changed and "layers.encoder.layers.0.linear1.weight" in changed
        assert not torch.equal(segmenter.head.weight, head["weight"])


def test_finetune_runs_end_to_end_through_the_cli(run_dir, coin_root, tmp_path, capsys):
    out = tmp_path / "finetune.json"
    assert main(["coin", "--run", str(run_dir), "--root", str(coin_root), "--mode", "finetune", "--seed", "0",
                 "--iterations", "60", "--lr", "0.003", "--out", str(out), "--no-mlflow", "--quiet"]) == 0
    written = json.loads(out.read_text())
    assert written["mode"] == "finetune" and written["iterations"] == 60
    assert json.loads(capsys.readouterr().out)["frame_accuracy"] == written["frame_accuracy"] > 80


def test_window_longer_than_the_encoder_positions_is_refused(run_dir, coin_root):
    with pytest.raises(ValueError, match="window of 40 s exceeds the video encoder's 32 positions"):
        evaluate_coin(run_dir, coin_root, window=40, iterations=1)


@pytest.mark.parametrize("change, message", [
    (lambda v: v["annotation"][1].update(segment=[9.0, 3.0]),
     r"video 'video01' segment 1: end 3.0 is before start 9.0"),
    (lambda v: v["annotation"][2].pop("label"), r"video 'video01' segment 2 has no key 'label'"),
    (lambda v: v.update(subset="train"), r"video 'video01': unknown subset 'train'"),
    (lambda v: v["annotation"][0].update(id="x5"), r"video 'video01' segment 0: step id must be"),
])
def test_malformed_coin_json_names_file_video_and_segment(run_dir, coin_root, tmp_path, change, message, capsys):
    database = json.loads((coin_root / "COIN.json").read_text())
    change(database["database"]["video01"])
    (tmp_path / "COIN.json").write_text(json.dumps(database))
    (tmp_path / "features").symlink_to(coin_root / "features")
    with pytest.raises(AnnotationError, match=rf"COIN.json: {message}"):
        evaluate_coin(run_dir, tmp_path, iterations=1)
    assert main(["coin", "--run", str(run_dir), "--root", str(tmp_path), "--iterations", "1",
                 "--out", str(tmp_path / "m.json"), "--no-mlflow", "--quiet"]) == 2
    assert "COIN.json: video 'video01'" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_invalid_json_names_the_line(run_dir, tmp_path):
    (tmp_path / "COIN.json").write_text('{"database": {\n"v": {,}\n}}')
    with pytest.raises(AnnotationError, match=r"COIN.json: invalid JSON at line 2"):
        evaluate_coin(run_dir, tmp_path, iterations=1)
