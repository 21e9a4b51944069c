"""CrossTask with a model: per-second frame-step scores, windowed encoding, the seeded draw, recall."""
import itertools
import json

import numpy as np
import pytest
import torch
from downstream_fixtures import save_run, write_random_features
from fixtures_formats import (
    crosstask_steps,
    crosstask_task_id,
    write_crosstask,
    youtube_id,
)

from taco.cli import main
from taco.data.annotation_io import AnnotationError
from taco.data.crosstask import load_crosstask
from taco.downstream.common import (
    encode_per_second,
    encoding_windows,
    per_second_features,
)
from taco.downstream.crosstask import (
    draw_split,
    evaluate_crosstask,
    frame_step_scores,
    localization_recall,
    text_embeddings,
)
from taco.features.store import FeatureStore
from taco.model.text_cache import TextFeatureCache
from taco.text.prepare import prepare_text
from taco.train import load_run

SECONDS = 50  # > 3 windows of the tiny model's 16 positions


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "text_cache"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, cache_dir):
    return save_run(tmp_path_factory.mktemp("crosstask_run"), cache_dir, max_video_tokens=16)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """2 primary tasks x 4 videos (1 in videos_val.csv) with 50 s of random features each."""
    root = tmp_path_factory.mktemp("crosstask")
    write_crosstask(root, n_tasks=2, videos_per_task=4, val_per_task=1)
    write_random_features(root, [youtube_id("ct", i) for i in range(8)], SECONDS)
    return root


@pytest.mark.parametrize("seconds, max_tokens, expected", [
    (10, 16, [(0, 10)]),
    (16, 16, [(0, 16)]),
    (17, 16, [(0, 8), (8, 17)]),  # two near-equal windows, never a 1-second tail
    (50, 16, [(0, 12), (12, 25), (25, 38), (38, 50)]),
])
def test_encoding_windows(seconds, max_tokens, expected):
    assert encoding_windows(seconds, max_tokens) == expected


def test_encoding_windows_cover_the_video_in_at_most_max_tokens():
    for seconds in range(1, 120):
        for max_tokens in (1, 5, 16, 48):
            windows = encoding_windows(seconds, max_tokens)
            assert windows[0][0] == 0 and windows[-1][1] == seconds
            assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
            assert all(0 < end - start <= max_tokens for start, end in windows)
            assert len(windows) == -(-seconds // max_tokens)


def test_long_video_is_encoded_window_by_window(run_dir):
    _, model = load_run(run_dir, [])
    features = np.random.default_rng(1).normal(size=(SECONDS, 24)).astype(np.float32)
    encoded = encode_per_second(model, features, 16)
    with torch.no_grad():
        expected = [model.encode_video(torch.from_numpy(features[a:b])[None], torch.ones(1, b - a, dtype=torch.bool))[0]
                    for a, b in [(0, 12), (12, 25), (25, 38), (38, 50)]]
    torch.testing.assert_close(encoded, torch.cat(expected), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="exceeds the model's 16 positions"):
        encode_per_second(model, features, 17)


def test_frame_step_matrix_equals_a_naive_loop(run_dir, release):
    cfg, model = load_run(run_dir, [])
    steps = crosstask_steps(1)
    video_id = youtube_id("ct", 5)
    features = per_second_features(FeatureStore(release, "r152+s3d_hm"), video_id)
    assert features.shape == (SECONDS, 24)
    scores = frame_step_scores(model, features, text_embeddings(model, cfg, steps), 16)

    # Naive: every step caption alone through the text path, every window alone through the video path.
    _, tables = prepare_text({"train": steps}, "none", cfg.model.text_model, cfg.data.max_text_tokens, cfg.cache_dir)
    cache = TextFeatureCache(cfg.cache_dir, cfg.model.text_model, cfg.data.max_text_tokens)
    naive = np.zeros((SECONDS, len(steps)))
    with torch.no_grad():
        cls = []
        for k, caption in enumerate(steps):
            length = int(tables["train"].attention_mask[k].sum())
            tokens = torch.from_numpy(cache.get([caption], length))
            cls.append(model.encode_text(tokens, torch.ones(1, length, dtype=torch.bool))[0, 0])
        for start, end in encoding_windows(SECONDS, 16):
            window = model.encode_video(torch.from_numpy(features[start:end])[None],
                                        torch.ones(1, end - start, dtype=torch.bool))[0]
            for t in range(start, end):
                for k in range(len(steps)):
                    naive[t, k] = float(window[t - start] @ cls[k])
    np.testing.assert_allclose(scores, naive, rtol=1e-4, atol=1e-4)


def test_per_second_features_resample_a_faster_first_type(tmp_path):
    from taco.features.store import feature_path, write_features

    rows = np.eye(16)[np.arange(15) % 16]  # 15 rows at 1.5 rows/s = 10 s; row j is one-hot j
    write_features(feature_path(tmp_path, "i3d_x101", "v"), rows)
    features = per_second_features(FeatureStore(tmp_path, "i3d_x101"), "v")
    # second t takes the row holding its centre: int((t + 0.5) * 1.5)
    assert features.shape == (10, 16)
    np.testing.assert_array_equal(features.argmax(1), [0, 2, 3, 5, 6, 8, 9, 11, 12, 14])


def test_draw_is_seeded_excludes_videos_val_and_keeps_train_per_task(tmp_path):
    write_crosstask(tmp_path, n_tasks=2, videos_per_task=9, val_per_task=2)
    crosstask = load_crosstask(tmp_path)
    val = {video for _, video in crosstask.val_videos}
    train, test = draw_split(crosstask, seed=3, train_per_task=4)
    assert (train, test) == draw_split(crosstask, seed=3, train_per_task=4)
    assert any(draw_split(crosstask, seed=s, train_per_task=4)[1] != test for s in range(4, 10))
    assert set(train) == set(test) == {crosstask_task_id(0), crosstask_task_id(1)}  # the related task is not primary
    for t, task_id in enumerate(sorted(train)):
        videos = [youtube_id("ct", 9 * t + v) for v in range(2, 9)]  # videos.csv order, videos_val left out
        assert len(train[task_id]) == 4 and len(test[task_id]) == 3
        assert sorted(train[task_id] + test[task_id]) == sorted(videos)
        assert not (set(train[task_id]) | set(test[task_id])) & val
        assert test[task_id] == [v for v in videos if v in test[task_id]]
    # Official rule: a task with no more than train_per_task videos left is all training.
    train, test = draw_split(crosstask, seed=3, train_per_task=7)
    assert test == {} and all(len(videos) == 7 for videos in train.values())


def test_recall_pools_hits_per_task_then_averages_tasks(tmp_path):
    """Hand-computed: fixture annotations of video i are step 1 on [i, i+5), step 2 on [10+i, 15+i)
    and [20+i, 25+i), the last step on [30+i, 35+i) (seconds, after floor/ceil)."""
    write_crosstask(tmp_path, n_tasks=2, videos_per_task=3, val_per_task=1)
    task0, task1 = crosstask_task_id(0), crosstask_task_id(1)  # 3 and 4 steps
    v1, v2, v4, v5 = (youtube_id("ct", i) for i in (1, 2, 4, 5))
    (tmp_path / "annotations" / f"{task1}_{v5}.csv").write_text("1,5.5,9.25\n")  # only step 1 annotated
    crosstask = load_crosstask(tmp_path)
    _, test = draw_split(crosstask, seed=0, train_per_task=0)
    assert test == {task0: [v1, v2], task1: [v4, v5]}
    placements = {
        v1: [2, 21, 36],      # hit [1,6), hit [21,26), miss [31,36): 2 of 3
        v2: [0, 12, 33],      # miss [2,7), hit [12,17), hit [32,37): 2 of 3
        v4: [5, 15, 20, 35],  # hit, hit, step 3 not annotated, hit: 3 of 3
        v5: [30, 31, 32, 33],  # step 1 only annotated, missed: 0 of 1
    }

    def scores_of(task_id, video_id):
        scores = np.zeros((40, len(placements[video_id])))
        scores[placements[video_id], np.arange(scores.shape[1])] = 1.0
        return scores

    result = localization_recall(crosstask, test, scores_of)
    assert result["per_task"] == pytest.approx({task0: 100 * 4 / 6, task1: 100 * 3 / 4})
    assert result["recall"] == pytest.approx((100 * 4 / 6 + 75.0) / 2)


def test_evaluate_crosstask_end_to_end(run_dir, release, tmp_path):
    out = tmp_path / "metrics.json"
    result = evaluate_crosstask(run_dir, release, "r152+s3d_hm", seed=1, train_per_task=1, out=out)
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    assert written["seed"] == 1 and written["score"] == "early" and written["features"] == "r152+s3d_hm"
    assert written["num_test_videos"] == 4 and set(written["per_task"]) == set(written["test_videos"])
    crosstask = load_crosstask(release)
    assert written["test_videos"] == draw_split(crosstask, seed=1, train_per_task=1)[1]
    assert 0 <= written["recall"] <= 100
    assert written["recall"] == pytest.approx(np.mean(list(written["per_task"].values())))
    assert evaluate_crosstask(run_dir, release, seed=1, train_per_task=1)["per_task"] == written["per_task"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_writes_metrics_and_logs_to_mlflow(run_dir, release, tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    out = tmp_path / "out" / "crosstask.json"
    assert main(["crosstask", "--run", str(run_dir), "--root", str(release), "--features", "r152+s3d_hm",
                 "--seed", "2", "--train-per-task", "2", "--out", str(out), "--quiet"]) == 0
    written = json.loads(out.read_text())
    assert written["num_test_videos"] == 2 and json.loads(capsys.readouterr().out)["recall"] == written["recall"]
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("taco").experiment_id])
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert (tags["job"], tags["task"], tags["seed"]) == ("crosstask", "crosstask", "2")
    assert tags["run_name"] == "tiny crosstask"
    assert run.data.metrics["crosstask/recall"] == pytest.approx(written["recall"])
    assert run.data.params["crosstask.train_per_task"] == "2"


def test_malformed_annotation_of_a_test_video_names_file_and_line(run_dir, tmp_path, capsys):
    write_crosstask(tmp_path, n_tasks=1, videos_per_task=3, val_per_task=1)
    write_random_features(tmp_path, [youtube_id("ct", i) for i in range(3)], SECONDS)
    task, video = crosstask_task_id(0), youtube_id("ct", 2)
    (tmp_path / "annotations" / f"{task}_{video}.csv").write_text("1,0.5,4.0\n2,five,9.0\n")
    with pytest.raises(AnnotationError, match=rf"{task}_{video}.csv: line 2: start must be a number"):
        evaluate_crosstask(run_dir, tmp_path, seed=0, train_per_task=0)
    (tmp_path / "tasks_primary.txt").write_text(f"{task}\nTitle\nhttp://x\n3\n")
    assert main(["crosstask", "--run", str(run_dir), "--root", str(tmp_path), "--out", str(tmp_path / "m.json"),
                 "--no-mlflow", "--quiet"]) == 2
    assert "tasks_primary.txt: line 5: expected the task's steps" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_too_few_videos_for_a_test_set_is_an_error(run_dir, release):
    with pytest.raises(ValueError, match="none has a test video: lower train_per_task"):
        evaluate_crosstask(run_dir, release, seed=0)


def test_video_without_annotation_file_is_skipped_and_logged(tmp_path, caplog):
    """The official evaluation skips a listed video that has no annotation file; recall is over the rest."""
    write_crosstask(tmp_path, n_tasks=1, videos_per_task=3, val_per_task=0)
    crosstask = load_crosstask(tmp_path)
    _, test = draw_split(crosstask, seed=0, train_per_task=0)
    (task_id, videos), = test.items()
    crosstask.annotation_path(task_id, videos[1]).unlink()

    def scores_of(task_id, video_id):
        return np.zeros((40, len(crosstask.tasks[task_id].steps)))

    with caplog.at_level("WARNING", logger="taco.crosstask"):
        result = localization_recall(crosstask, test, scores_of)
    assert result["videos_without_annotations"] == [videos[1]]
    expected = localization_recall(crosstask, {task_id: [videos[0], videos[2]]}, scores_of)
    assert result["per_task"] == expected["per_task"]
    assert any(videos[1] in record.getMessage() for record in caplog.records)
