"""Files are written whole or not at all."""
from pathlib import Path

import pytest

from autograde.visible.atomic import write_atomic


def test_text_and_bytes_are_written_whole(tmp_path):
    assert write_atomic(tmp_path / "a.json", '{"x": 1}').read_text() == '{"x": 1}'
    assert write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"


def test_a_write_stopped_before_the_rename_keeps_the_old_file_and_leaves_no_partial(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    target.write_text("old")

    def interrupted(self, to):
        raise KeyboardInterrupt  # Ctrl-C after the data was written, before it took the file's place
    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]
