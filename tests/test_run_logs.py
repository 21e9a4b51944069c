"""Reading a run's JSON-lines logs: blank lines skipped, a torn line an error naming the file and the line."""
from __future__ import annotations

import json

import pytest

from taco.run_logs import RunLogError, log_entries, logged_series, train_losses


def test_entries_skip_blank_lines_and_keep_file_line_numbers(tmp_path):
    log = tmp_path / "val_log.jsonl"
    log.write_text('{"step": 1}\n\n  \n{"step": 2, "selection_score": 0.5}\n')
    assert list(log_entries(log)) == [(1, {"step": 1}), (4, {"step": 2, "selection_score": 0.5})]
    assert logged_series(log, "selection_score") == ([2], [0.5])
    assert logged_series(tmp_path / "missing.jsonl", "loss") == ([], [])


def test_a_torn_line_names_the_file_and_the_line(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text(json.dumps({"step": 1, "loss": 2.0}) + '\n\n{"step": 2, "lo')
    with pytest.raises(RunLogError, match=r"train_log\.jsonl' line 3 is not JSON") as caught:
        list(log_entries(log))
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)
    with pytest.raises(ValueError, match="line 3 is not a training log entry with step and loss"):
        train_losses(log, error=ValueError)


def test_train_losses_need_step_and_loss_and_keep_a_step_s_last_loss(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps(entry) + "\n" for entry in ({"step": 1, "loss": 3}, {"step": "2", "loss": "1.5"},
                                                                   {"step": 1, "loss": 2.0})))
    assert train_losses(log) == {1: 2.0, 2: 1.5}
    log.write_text(json.dumps({"step": 1, "lr": 0.1}) + "\n")
    with pytest.raises(RunLogError, match="line 1 is not a training log entry with step and loss: 'loss'"):
        train_losses(log)
