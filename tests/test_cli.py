"""The command line: every command documents itself (prog, help on every option, defaults); bad configs
and profiles fail in one line naming the key."""
import json
import subprocess
import sys

import pytest
import yaml

from taco.cli import build_parser, main

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


def test_help_lists_training_evaluation_and_scoring():
    out = subprocess.run([sys.executable, "-m", "taco", "--help"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: python -m taco ")
    for command in ("train", "evaluate", "score", "prepare-text", "generate", "extract-features"):
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m taco {command} ")


def subcommand_parsers():
    from taco.data.synthetic import generate
    from taco.features import extract

    parsers = dict(build_parser()._subparsers._group_actions[0].choices)
    return {**parsers, "generate": generate.build_parser(), "extract-features": extract.build_parser()}


def test_every_option_has_help_and_shows_its_default():
    parsers = subcommand_parsers()
    assert set(COMMANDS) <= set(parsers) and {"generate", "extract-features"} <= set(parsers)
    for name, parser in parsers.items():
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
                text = parser.format_help()
                if action.default not in (None, False, []):
                    assert f"(default: {action.default})".replace("\n", " ") in " ".join(text.split()), \
                        f"{name} {action.option_strings[0]}: default {action.default!r} not shown"


@pytest.mark.parametrize("module", ["taco.data.synthetic.generate", "taco.features.extract"])
def test_module_entry_points_name_themselves(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m {module} ") and "__main__" not in out


def test_unknown_synthetic_profile_is_a_one_line_error(tmp_path, capsys):
    assert main(["generate", "--profile", "tiny", "--out", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "python -m taco generate: error: unknown synthetic profile 'tiny' (known: smoke, default)"
    assert not (tmp_path / "data").exists()
    done = subprocess.run([sys.executable, "-m", "taco.data.synthetic.generate", "--profile", "tiny", "--out",
                           str(tmp_path / "data")], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "smoke" in done.stderr and "default" in done.stderr


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


def test_init_tracking_creates_the_profile_experiment_with_its_description(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    profile = yaml.safe_load(open("params/smoke.yaml"))
    assert main(["init-tracking", "--profile", "params/smoke.yaml"]) == 0
    assert json.loads(capsys.readouterr().out)["experiment"] == f"taco-{profile['profile']}"
    experiment = MlflowClient(tracking_uri=store).get_experiment_by_name(f"taco-{profile['profile']}")
    assert experiment.tags["mlflow.note.content"] == profile["description"]
