"""Atomic writes: the target appears whole or not at all, and no temporary file is left behind."""
import pytest

from taco.atomic import atomic_path, write_json, write_text


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_successful_write_replaces_the_file(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1}, sort_keys=True)
    write_json(target, {"b": 2}, sort_keys=True)
    assert target.read_text() == '{"b": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
