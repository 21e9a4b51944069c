"""The command line: every command documents itself; bad configs fail naming the key."""
import json
import subprocess
import sys

import pytest
import yaml

from taco.cli import main


def test_help_lists_training_evaluation_and_scoring():
    out = subprocess.run([sys.executable, "-m", "taco", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("train", "evaluate", "score", "prepare-text", "generate", "extract-features"):
        assert command in out


@pytest.mark.parametrize("command", ["train", "evaluate", "score", "prepare-text", "generate", "extract-features"])
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_bad_config_value_fails_naming_the_key(tmp_path, capsys):
    assert main(["train", "--set", "optim.lr=-1", "--out", str(tmp_path / "run")]) == 2
    assert "optim.lr" in capsys.readouterr().err
    assert main(["train", "--set", "loss.negativez=random", "--out", str(tmp_path / "run")]) == 2
    assert "loss.negativez" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_seeds_trained_in_one_process_equal_separate_processes(tiny_config, tmp_path):
    """`taco train --config a --out A --config b --out B` (the workflow's per-run job) shares the data
    between the seeds and gives each the metrics it gets alone."""
    configs = []
    for seed in (0, 1):
        path = tmp_path / f"seed{seed}.yaml"
        path.write_text(yaml.safe_dump({**tiny_config, "optim": {**tiny_config.get("optim", {}), "seed": seed}}))
        configs.append(path)
    together = ["train", "--no-mlflow", "--quiet"]
    for seed, path in enumerate(configs):
        together += ["--config", str(path), "--out", str(tmp_path / f"together{seed}")]
        assert main(["train", "--no-mlflow", "--quiet", "--config", str(path), "--out", str(tmp_path / f"alone{seed}")]) == 0
    assert main(together) == 0
    for seed in (0, 1):
        alone, both = (json.loads((tmp_path / f"{name}{seed}" / "metrics.json").read_text())
                       for name in ("alone", "together"))
        assert both["test"] == alone["test"] and both["seed"] == seed
    assert main(["train", "--config", str(configs[0]), "--out", str(tmp_path / "x"), "--out", str(tmp_path / "y")]) == 2


def test_yaml_syntax_error_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: 0.1\n  batch_size: [8\n")
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"config file '{bad}' line 4" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("top", ["100000", "-1", "0"])
def test_score_top_out_of_range_is_a_one_line_error(tiny_config, tmp_path, capsys, top):
    from taco import config
    from taco.data.retrieval import split_clips
    from taco.train import train

    cfg = config.from_dict(tiny_config)
    train(cfg, tmp_path / "run", progress=False, track=False)
    caption = split_clips(cfg)["test"][0].text
    assert main(["score", "--run", str(tmp_path / "run"), "--query", caption, "--top", top, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--top {top}" in err and "Traceback" not in err
    assert main(["score", "--run", str(tmp_path / "run"), "--query", caption, "--top", "2", "--quiet"]) == 0
    assert all(len(hits) == 2 for weight in json.loads(capsys.readouterr().out).values() for hits in weight.values())
