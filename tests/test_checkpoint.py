"""Checkpoints: never run code when loaded (every entry point), clear errors, deterministic bytes."""
import hashlib

import pytest
import torch

from taco import checkpoint, cli
from taco import config as config_module
from taco.train import train


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker file appears if the payload runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def plant(path, marker):
    """A checkpoint of the usual shape whose pickle creates ``marker`` when fully unpickled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {"w": torch.zeros(1)}, "config": {}, "video_dim": 1, "payload": Payload(marker)}, path)
    return path


def test_save_gives_identical_bytes_wherever_it_saves(tmp_path):
    contents = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "config": {"a": [1, 2.5, "x"], "b": None},
                "step": 3}
    checkpoint.save(contents, tmp_path / "one" / "best.pt")
    checkpoint.save(contents, tmp_path / "two" / "other_name.pt")
    first, second = (tmp_path / "one" / "best.pt").read_bytes(), (tmp_path / "two" / "other_name.pt").read_bytes()
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["best.pt"]  # no temporary left behind
    loaded = checkpoint.load(tmp_path / "one" / "best.pt", required=("model", "step"))
    assert torch.equal(loaded["model"]["w"], contents["model"]["w"]) and loaded["config"] == contents["config"]


def test_missing_key_is_named_with_the_file(tmp_path):
    checkpoint.save({"model": {}}, tmp_path / "best.pt")
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint '.*best\.pt' has no 'config'"):
        checkpoint.load(tmp_path / "best.pt", required=("model", "config"))


def test_refused_file_is_named_and_payload_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = plant(tmp_path / "best.pt", marker)
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint '.*best\.pt' refused"):
        checkpoint.load(path)
    assert not marker.exists()


CLI_ENTRY_POINTS = {
    "evaluate": lambda run, tmp: ["evaluate", "--run", str(run), "--no-mlflow", "--quiet"],
    "score": lambda run, tmp: ["score", "--run", str(run), "--query", "a caption", "--quiet"],
    "figure3": lambda run, tmp: ["figure3", "--run", str(run), "--out", str(tmp / "f.json"), "--quiet"],
    "model-size": lambda run, tmp: ["model-size", "--run", str(run), "--paper-video-layers", "--out",
                                    str(tmp / "m.json")],
    "crosstask": lambda run, tmp: ["crosstask", "--run", str(run), "--root", str(tmp), "--out",
                                   str(tmp / "c.json"), "--no-mlflow", "--quiet"],
    "coin": lambda run, tmp: ["coin", "--run", str(run), "--root", str(tmp), "--out", str(tmp / "c.json"),
                              "--no-mlflow", "--quiet"],
}


@pytest.mark.parametrize("command", sorted(CLI_ENTRY_POINTS))
def test_cli_entry_points_refuse_a_malicious_best_pt(command, tmp_path, capsys):
    marker = tmp_path / "marker"
    plant(tmp_path / "run" / "best.pt", marker)
    assert cli.main(CLI_ENTRY_POINTS[command](tmp_path / "run", tmp_path)) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "best.pt' refused" in err and "Traceback" not in err


def test_training_refuses_a_malicious_init_from(tiny_config, tmp_path):
    marker = tmp_path / "marker"
    init = plant(tmp_path / "pretrained" / "best.pt", marker)
    cfg = config_module.from_dict({**tiny_config, "model": {**tiny_config["model"], "init_from": str(init)}})
    with pytest.raises(checkpoint.CheckpointError, match="refused"):
        train(cfg, tmp_path / "run", progress=False, track=False)
    assert not marker.exists()


def test_training_refuses_to_resume_a_malicious_checkpoint(tiny_config, tmp_path):
    marker = tmp_path / "marker"
    plant(tmp_path / "run" / "checkpoint.pt", marker)
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint\.pt' refused"):
        train(config_module.from_dict(tiny_config), tmp_path / "run", progress=False, track=False)
    assert not marker.exists()


def test_training_refuses_a_best_pt_replaced_by_a_malicious_one(tiny_config, tmp_path, monkeypatch):
    """The final reload of best.pt (for the test split) goes through the same safe loader."""
    marker = tmp_path / "marker"
    save = checkpoint.save

    def save_then_replace_best(contents, path):
        save(contents, path)
        if path.name == "best.pt":
            plant(path, marker)

    monkeypatch.setattr(checkpoint, "save", save_then_replace_best)
    with pytest.raises(checkpoint.CheckpointError, match=r"best\.pt' refused"):
        train(config_module.from_dict(tiny_config), tmp_path / "run", progress=False, track=False)
    assert not marker.exists()


def test_trained_run_files_load_with_weights_only(tiny_config, tmp_path):
    """What train() saves (config dict, optimiser and scheduler state) holds only tensors and plain values."""
    train(config_module.from_dict(tiny_config), tmp_path / "run", progress=False, track=False)
    for name in ("best.pt", "checkpoint.pt"):
        torch.load(tmp_path / "run" / name, weights_only=True)

