"""Pretraining on HowTo100M, finetuning from its checkpoint and zero-shot transfer (paper 4.3, Table 8)."""
import json
import shutil

import pytest
import torch
import yaml
from conftest import TINY_RUN

import taco.train as train_module
from taco import config
from taco.cli import main
from taco.data.retrieval import split_clips
from taco.data.synthetic.generate import generate
from taco.losses import TacoLoss
from taco.train import evaluate_split, train


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke_world")
    generate(root, profile="smoke", seed=0, progress=False)
    return root


def values(world, tmp_path_factory, dataset, **overrides):
    """Tiny run values on a dataset of the smoke world, sharing the session's text cache."""
    base = {**TINY_RUN, "data": {"dataset": dataset, "root": str(world / dataset), "features": "s3d_hm",
                                 "val_fraction": 0.2},
            "cache_dir": str(tmp_path_factory.getbasetemp() / "text_cache")}
    return config.apply_overrides(base, [f"{k}={v}" for k, v in overrides.items()])


@pytest.fixture(scope="module")
def pretrained(world, tmp_path_factory):
    """A howto100m run trained through the CLI: its run directory."""
    run_dir = tmp_path_factory.mktemp("pretrain") / "run"
    cfg_file = run_dir.parent / "pretrain.yaml"
    cfg_file.write_text(yaml.safe_dump(values(world, tmp_path_factory, "howto100m")))
    assert main(["train", "--config", str(cfg_file), "--out", str(run_dir), "--no-mlflow", "--quiet"]) == 0
    return run_dir


def finetune_cfg(world, tmp_path_factory, init_from, **overrides):
    return config.from_dict(values(world, tmp_path_factory, "youcook2", **{
        "model.init_from": str(init_from), "optim.lr": 2.0e-5, **overrides}))


class RecordingLoss(TacoLoss):
    """TacoLoss that keeps the weights seen at the first step and can fail at a given step."""

    first_weights = None
    fail_at = None
    calls = 0

    def forward(self, model, *args, **kwargs):
        cls = type(self)
        cls.calls += 1
        if cls.first_weights is None:
            cls.first_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if cls.calls == cls.fail_at:
            raise RuntimeError("interrupted")
        return super().forward(model, *args, **kwargs)


@pytest.fixture
def recording_loss(monkeypatch):
    monkeypatch.setattr(RecordingLoss, "first_weights", None)
    monkeypatch.setattr(RecordingLoss, "fail_at", None)
    monkeypatch.setattr(RecordingLoss, "calls", 0)
    monkeypatch.setattr(train_module, "TacoLoss", RecordingLoss)
    return RecordingLoss


def test_pretraining_on_howto100m_selects_on_validation_without_a_test_split(pretrained):
    metrics = json.loads((pretrained / "metrics.json").read_text())
    assert metrics["dataset"] == "howto100m" and metrics["has_test_split"] is False
    assert metrics["test"] == {} and metrics["test_captions"] == metrics["test_videos"] == 0
    assert metrics["best_step"] in (6, 12) and "fused/t2v_r1" in metrics["val"]
    assert torch.load(pretrained / "best.pt", weights_only=False)["step"] == metrics["best_step"]
    # Evaluating the pretraining data's test split names the problem and the way out.
    assert main(["evaluate", "--run", str(pretrained), "--no-mlflow", "--quiet"]) == 2


def test_howto100m_narrations_are_merged_to_min_words(world, tmp_path_factory):
    counts = {}
    for min_words in (10, 25):
        cfg = config.from_dict(values(world, tmp_path_factory, "howto100m", **{"data.min_words": min_words}))
        splits = split_clips(cfg)
        assert set(splits) == {"train", "val"}
        captions = [c.text for items in splits.values() for c in items]
        # Every merged clip has >= min_words words (shorter remainders join the previous clip).
        assert min(len(text.split()) for text in captions) >= min_words
        counts[min_words] = len(captions)
    assert counts[25] < counts[10]
    with pytest.raises(config.ConfigError, match="data.min_words"):
        config.from_dict(values(world, tmp_path_factory, "howto100m", **{"data.min_words": 0}))


def test_init_from_starts_from_the_pretrained_weights_exactly(world, tmp_path_factory, pretrained, tmp_path,
                                                              recording_loss):
    best = pretrained / "best.pt"
    result = train(finetune_cfg(world, tmp_path_factory, best), tmp_path / "run", progress=False, track=False)
    expected = torch.load(best, weights_only=False)["model"]
    assert recording_loss.first_weights.keys() == expected.keys()
    assert all(torch.equal(recording_loss.first_weights[k], expected[k]) for k in expected)
    assert result["init_from"] == str(best) and result["init_sha256"] == train_module.file_digest(best)
    assert result["has_test_split"] and result["test"]


@pytest.mark.parametrize("override, parameter", [({"model.hidden_size": 64}, ""),  # the first in name order
                                                 ({"data.features": "r152+s3d_hm"}, "video_encoder.embed.")])
def test_init_from_with_other_shapes_names_the_file_and_parameter(world, tmp_path_factory, pretrained, tmp_path,
                                                                  override, parameter):
    best = pretrained / "best.pt"
    with pytest.raises(ValueError, match=rf"'{best}'.*parameter '{parameter}[^']+' has shape"):
        train(finetune_cfg(world, tmp_path_factory, best, **override), tmp_path / "run", progress=False, track=False)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_missing_init_file_fails_before_anything_is_prepared(world, tmp_path_factory, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"model.init_from '{tmp_path / 'absent.pt'}'"):
        train(finetune_cfg(world, tmp_path_factory, tmp_path / "absent.pt"), tmp_path / "run", progress=False,
              track=False)


def test_interrupted_finetuning_resumes_to_the_uninterrupted_result(world, tmp_path_factory, pretrained, tmp_path,
                                                                    recording_loss):
    cfg = finetune_cfg(world, tmp_path_factory, pretrained / "best.pt")
    reference = train(cfg, tmp_path / "reference", progress=False, track=False)
    recording_loss.fail_at = recording_loss.calls + 7  # after the checkpoint of step 4
    with pytest.raises(RuntimeError, match="interrupted"):
        train(cfg, tmp_path / "resumed", progress=False, track=False)
    assert torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)["state"]["step"] == 4
    resumed = train(cfg, tmp_path / "resumed", progress=False, track=False)
    assert resumed == reference
    assert (tmp_path / "resumed" / "train_log.jsonl").read_text() == (tmp_path / "reference" / "train_log.jsonl").read_text()


def test_changed_pretrained_file_makes_the_finetuning_start_afresh(world, tmp_path_factory, pretrained, tmp_path):
    init = tmp_path / "pretrained.pt"
    shutil.copy(pretrained / "best.pt", init)
    cfg = finetune_cfg(world, tmp_path_factory, init)
    first = train(cfg, tmp_path / "run", progress=False, track=False)
    saved = torch.load(init, weights_only=False)
    saved["model"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in saved["model"].items()}
    torch.save(saved, init)
    second = train(cfg, tmp_path / "run", progress=False, track=False)  # same config hash, other weights
    assert second["config_hash"] == first["config_hash"] and second["init_sha256"] != first["init_sha256"]
    assert second["test"] != first["test"]
    assert len((tmp_path / "run" / "train_log.jsonl").read_text().splitlines()) == 12


@pytest.mark.parametrize("dataset, overrides", [("youcook2", []), ("msrvtt", ["data.split=split2"])])
def test_zero_shot_evaluation_of_the_pretrained_model(world, tmp_path_factory, pretrained, tmp_path, monkeypatch,
                                                      dataset, overrides):
    overrides = [f"data.dataset={dataset}", f"data.root={world / dataset}", *overrides]
    track = dataset == "youcook2"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = tmp_path / "zero_shot.json"
    args = ["evaluate", "--run", str(pretrained), "--out", str(out), "--quiet"]
    assert main(args + [f"--set={o}" for o in overrides] + ([] if track else ["--no-mlflow"])) == 0
    result = json.loads(out.read_text())
    target = config.from_dict(config.apply_overrides(values(world, tmp_path_factory, "howto100m"), overrides))
    test = split_clips(target)["test"]
    assert (result["dataset"], result["split"], result["captions"]) == (dataset, "test", len(test))
    assert result["videos"] == len({c.segment for c in test})
    assert 0 <= result["metrics"]["fused/t2v_r1"] <= 100
    if track:
        from taco.tracking import latest_finished_runs

        run = latest_finished_runs(job="evaluate")[result["config_hash"]]
        assert run.tags["dataset"] == dataset and run.tags["split"] == "test"
        assert run.metrics["test/fused/t2v_r1"] == result["metrics"]["fused/t2v_r1"]


def test_several_runs_evaluated_in_one_process_give_what_one_process_each_gives(world, tmp_path_factory,
                                                                               pretrained, tmp_path):
    """The workflow evaluates a run's seeds together (the dataset loaded once); each result is the one
    a separate process writes, at the position of its --run."""
    other = tmp_path / "seed1"
    cfg_file = tmp_path / "seed1.yaml"
    cfg_file.write_text(yaml.safe_dump(values(world, tmp_path_factory, "howto100m", **{"optim.seed": 1})))
    assert main(["train", "--config", str(cfg_file), "--out", str(other), "--no-mlflow", "--quiet"]) == 0
    zero_shot = ["--set=data.dataset=youcook2", f"--set=data.root={world / 'youcook2'}", "--no-mlflow", "--quiet"]
    runs = [pretrained, other]
    together = [tmp_path / "together0.json", tmp_path / "together1.json"]
    args = ["evaluate"] + [a for run, out in zip(runs, together) for a in ("--run", str(run), "--out", str(out))]
    assert main(args + zero_shot) == 0
    for run, out in zip(runs, together):
        alone = tmp_path / "alone.json"
        assert main(["evaluate", "--run", str(run), "--out", str(alone)] + zero_shot) == 0
        assert json.loads(out.read_text()) == json.loads(alone.read_text())
    first, second = (json.loads(out.read_text()) for out in together)
    assert first["run"] == str(pretrained) and first["per_query"] != second["per_query"]
    assert main(["evaluate", "--run", str(pretrained), "--run", str(other), "--out", str(together[0])]
                + zero_shot) == 2


def test_evaluating_a_split_the_data_lacks_names_it(world, tmp_path_factory, pretrained):
    from taco.train import load_run
    from taco.data.retrieval import RetrievalData

    cfg, model = load_run(pretrained, [])
    with pytest.raises(ValueError, match="howto100m has no test split"):
        evaluate_split(model, RetrievalData(cfg), "test", cfg, "cpu")


def test_init_from_is_an_optional_path_covered_by_the_hash():
    assert config.from_dict({}).model.init_from == ""
    assert config.from_dict({"model": {"init_from": None}}).model.init_from == ""
    hashes = {config.from_dict({"model": {"init_from": path}}).hash() for path in ("", "a/best.pt", "b/best.pt")}
    assert len(hashes) == 3
    with pytest.raises(config.ConfigError, match="model.init_from"):
        config.from_dict({"model": {"init_from": 3}})


def test_shorter_position_tables_are_extended_with_the_models_own_rows():
    """ActivityNet finetuning starts from a model pretrained with fewer positions (paper 4.3)."""
    import torch
    from torch import nn

    from taco.train import extend_positions

    class Tiny(nn.Module):
        def __init__(self, positions):
            super().__init__()
            self.position = nn.Embedding(positions, 4)
            self.project = nn.Linear(4, 4)

    pretrained, model = Tiny(3), Tiny(7)
    extended = extend_positions(model, pretrained.state_dict())
    assert torch.equal(extended["position.weight"][:3], pretrained.position.weight)
    assert torch.equal(extended["position.weight"][3:], model.position.weight[3:])
    assert torch.equal(extended["project.weight"], pretrained.project.weight)
    longer = extend_positions(Tiny(2), pretrained.state_dict())  # never truncated: load_weights then refuses
    assert longer["position.weight"].shape == (3, 4)
