"""The command line: every command documents itself; bad configs fail naming the key."""
import subprocess
import sys

import pytest

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
