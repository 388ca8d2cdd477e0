"""Files are written whole or not at all, and readable by course staff only unless asked otherwise."""
import os
from pathlib import Path

import pytest

from autograde.visible.atomic import PUBLIC_FILE, make_dirs, write_atomic


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


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_what_the_grader_writes_is_for_course_staff_only(tmp_path, usual_umask):
    """Owner and group; no other account, whatever mode the file it replaces had."""
    target = tmp_path / "grades.csv"
    target.write_text("old")
    target.chmod(0o644)
    assert write_atomic(target, "new").stat().st_mode & 0o777 == 0o640


def test_files_meant_for_everyone_ask_for_it(tmp_path, usual_umask):
    assert write_atomic(tmp_path / "expected.json", "{}", mode=PUBLIC_FILE).stat().st_mode & 0o777 == 0o644


def test_a_stricter_umask_still_wins(tmp_path):
    old = os.umask(0o077)
    try:
        assert write_atomic(tmp_path / "a.csv", "x").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_every_folder_made_for_an_output_is_staff_only_and_existing_ones_keep_their_mode(tmp_path, usual_umask):
    (tmp_path / "feedback").mkdir(mode=0o755)
    page = tmp_path / "feedback" / "bob" / "accel_sgd"
    assert make_dirs(page) == page
    assert [(p.name, p.stat().st_mode & 0o777) for p in (tmp_path / "feedback", page.parent, page)] == [
        ("feedback", 0o755), ("bob", 0o750), ("accel_sgd", 0o750)]
    make_dirs(page)  # again: nothing to do


def test_make_dirs_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "feedback").write_text("")
    with pytest.raises(NotADirectoryError):  # as Path.mkdir(parents=True) says it: "Not a directory"
        make_dirs(tmp_path / "feedback" / "bob")
