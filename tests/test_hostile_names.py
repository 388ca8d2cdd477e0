"""Any name the file system allows, under SUBMITTED: graded under that name or skipped with why, never
stopping the others.

A student folder's name is the student id nbgrader knows (formgrader, release_feedback and the
student's fetch use it), so it is graded as it is or skipped (submissions.id_problem, the one rule
that feedback.safe_part applies too). The unit tests look at submissions.find alone; the class at the
end is graded once: two good students with real notebooks (the released lesson, unfilled) and, for
the hostile names, notebooks that cannot be read, graded without a kernel (the student id never
reaches a kernel: it is the grader's data only).
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograde import paths, submissions
from autograde.outputs import results
from autograde.outputs.feedback import safe_part
from autograde.outputs.records import CellResult, SubmissionResult
from autograde.submissions import id_problem, shown

A = paths.ASSIGNMENT
LESSON = paths.REPO_ROOT / "lessons" / A / f"{A}.ipynb"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
ENV.pop("AUTOGRADE_CACHE", None)
UNREADABLE = '{"cells": ['  # graded at once, as unreadable: no kernel

# Names a student folder may have that are student ids as they are.
GRADED = ["=2+5", "+1", "-1", "@sum", "a b", "a..b", "\u00fcn\u00ef c\u00f6d\u00e9", "x" * 128, "star*"]
# Names that cannot be: (the name as bytes, what the reason says).
SKIPPED = [
    (b"back\\slash", "path separator"),
    (b"caf\xe9", "not valid UTF-8"),
    (b"y" * 255, "255 characters long"),
    ("\u00e9".encode() * 121, "242 bytes long"),  # 121 characters, within nbgrader's 128
    (b".hidden", "starts with '.'"),
    (b"...", "starts with '.'"),
    (b".. ", "starts with '.'"),
    (b"new\nline", "U+000A"),
    (b"tab\tx", "U+0009"),
    (b"cr\rx", "U+000D"),
    (b"\x1b[2Jclear", "U+001B"),
    ("\u202eevil".encode(), "U+202E"),
    (b" lead", "white space"),
    (b"trail ", "white space"),
]


def notebook(path, text=UNREADABLE) -> Path:
    """path as str or bytes (bytes reach names that are not UTF-8)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return Path(os.fsdecode(path))


def student(sub: Path, name, text=UNREADABLE) -> Path:
    folder = os.path.join(os.fsencode(sub), os.fsencode(name) if isinstance(name, str) else name)
    return notebook(os.path.join(folder, os.fsencode(A), os.fsencode(f"{A}.ipynb")), text)


# --- the rule for a student id ------------------------------------------------------------------

@pytest.mark.parametrize("name", GRADED)
def test_a_name_that_can_be_a_student_id_is_used_as_it_is(name):
    assert id_problem(name) is None
    assert safe_part(name) == name


@pytest.mark.parametrize("raw,why", SKIPPED)
def test_a_name_that_cannot_be_a_student_id_has_a_reason_and_no_file_is_named_after_it(raw, why):
    name = os.fsdecode(raw)
    assert why in id_problem(name)
    with pytest.raises(ValueError, match="unsafe id for a file name"):
        safe_part(name)


def test_a_name_is_shown_on_one_line_with_what_hides_in_it_spelled_out():
    assert shown(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert shown("new\nline") == "new\\nline"
    assert shown("\u202eevil") == "\\u202eevil"
    assert shown(" lead") == "\\x20lead"
    assert shown("\u00fcn\u00ef") == "\u00fcn\u00ef"


def test_the_result_cache_key_takes_any_name():
    from autograde.trusted.grade import load_setup
    from autograde.trusted.result_cache import ResultCache
    cache = ResultCache(Path("unused"), load_setup())
    assert cache.key(os.fsdecode(b"caf\xe9"), "text") != cache.key("caf", "text")


# --- finding the class (no kernel) --------------------------------------------------------------

def test_every_name_is_found_or_skipped_with_why_and_none_stops_the_others(tmp_path):
    sub = tmp_path / "sub"
    for name in GRADED:
        student(sub, name)
    for raw, _ in SKIPPED:
        student(sub, raw)
    found = submissions.find(sub, A, A)
    assert sorted(s.student_id for s in found.submissions) == sorted(GRADED)
    assert {s.name: s.reason for s in found.skipped} == {
        shown(os.fsdecode(raw)): id_problem(os.fsdecode(raw)) for raw, _ in SKIPPED}


def test_a_second_notebook_with_a_name_that_is_not_utf8_is_named_escaped_to_the_student(tmp_path):
    chosen = student(tmp_path, "ann")
    notebook(os.path.join(os.fsencode(chosen.parent), b"\xff\xfe.ipynb"))
    [sub] = submissions.find(tmp_path, A, A).submissions
    assert sub.path == chosen
    assert sub.note.startswith(f"Your submission held 2 notebooks ({A}.ipynb, \\xff\\xfe.ipynb); ")
    sub.note.encode("utf-8")  # the page and the results can hold it


def test_a_file_where_a_folder_is_expected_is_said(tmp_path):
    (tmp_path / "ann").write_text("")  # beside the student folders: a file, named in a note (a README...)
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / A).write_text("")
    (tmp_path / "cy").mkdir()
    student(tmp_path, "dan")
    found = submissions.find(tmp_path, A, A)
    assert [s.student_id for s in found.submissions] == ["dan"]
    assert found.files == ["ann"]
    assert [(s.name, s.reason) for s in found.skipped] == [
        ("bob", f"its {A} is a file, not a folder"),
        ("cy", f"no {A} folder in it")]


def test_an_unreadable_folder_is_skipped_with_why():
    """chmod 000 stops everyone but root: as root, a forked child looks as nobody (uid 65534)."""
    base = Path(tempfile.mkdtemp(prefix="autograde-unreadable-"))  # in /tmp, where nobody may pass
    try:
        base.chmod(0o755)
        student(base, "ann")
        student(base, "locked")
        (base / "locked").chmod(0)
        assert _find_as_nobody(base) == [["ann"], [["locked", "it cannot be read (Permission denied)"]]]
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


def _find_as_nobody(sub: Path) -> list:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody when root, look, report, exit without pytest's teardown
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            found = submissions.find(sub, A, A)
            answer = [[s.student_id for s in found.submissions], [[s.name, s.reason] for s in found.skipped]]
        except BaseException as e:  # noqa: BLE001 - said to the parent
            answer = repr(e)
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


# --- what the instructor reads: CSV cells and the printed table ---------------------------------

def _result(sid, message="", status="ok"):
    return SubmissionResult(sid, A, A, status, message=message, cells=[
        CellResult("test_sgd_small", 1.0, 2.0, message="=HYPERLINK(\"x\")"),
        CellResult("test_adam_small", -0.0, 2.0, message="-0.5 differs")])


def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(tmp_path):
    results.write_csvs([_result(sid) for sid in ["=2+5", "+1", "-1", "@sum", "ann"]], tmp_path)
    grades = list(csv.DictReader(open(tmp_path / "grades.csv", newline="")))
    assert [g["student_id"] for g in grades] == ["'=2+5", "'+1", "'-1", "'@sum", "ann"]
    assert grades[0]["total"] == "1.0"
    cells = list(csv.DictReader(open(tmp_path / "cells.csv", newline="")))
    assert [c["message"] for c in cells[:2]] == ["'=HYPERLINK(\"x\")", "'-0.5 differs"]
    assert [c["score"] for c in cells[:2]] == ["1.0", "-0.0"]  # numbers stay numbers


def test_csv_tab_and_carriage_return_starts_are_neutralised_too():
    assert [results.spreadsheet_safe(v) for v in ["\tx", "\rx", "x=1", 3, -1.5]] == ["'\tx", "'\rx", "x=1", 3, -1.5]


def test_the_printed_table_has_one_line_per_student(capsys):
    from autograde.cli import _print_table
    from autograde.identical import Group
    skipped = [submissions.Skipped(shown("new\nline"), id_problem("new\nline"))]
    _print_table([_result("ann", "line one\nline two\x1b[2J", "error")], skipped, [Group(("ann", "bob"), True)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("ann ") and lines[1].endswith("line one\\nline two\\x1b[2J")
    assert lines[2] == "new\\nline  " + "-".rjust(11) + "  not graded: " + id_problem("new\nline")
    assert lines[3:] == ["handed in by more than one student (a hint to look at, not a verdict):",
                         "  the same notebook file: ann, bob"]


# --- a class with all of the above, graded once -------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    sub, out = root / "submitted", root / "out"
    lesson = LESSON.read_text()
    for name in ["ann", "ben"]:
        student(sub, name, lesson)
    notebook(os.path.join(os.fsencode(sub / "ann" / A), b"draft \xff.ipynb"), lesson)
    notebook(sub / "ben" / A / ("n" * 249 + ".ipynb"), lesson)  # 255 bytes, the longest name there is
    for name in GRADED:
        student(sub, name)
    for raw, _ in SKIPPED:
        student(sub, raw)
    (sub / "a-file").write_text("")
    student(sub, "locked")
    (sub / "locked").chmod(0)
    try:
        proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(sub), "--out", str(out),
                               "--jobs", "2", "--timeout", "120", "--cell-timeout", "20"],
                              capture_output=True, text=True, env=ENV, cwd=paths.REPO_ROOT, timeout=900)
    finally:
        (sub / "locked").chmod(0o755)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graded = ["ann", "ben", *GRADED] + (["locked"] if os.geteuid() == 0 else [])  # root reads a chmod 000 folder
    skipped = [shown(os.fsdecode(raw)) for raw, _ in SKIPPED] + ([] if os.geteuid() == 0 else ["locked"])
    return {"out": out, "proc": proc, "graded": graded, "skipped": skipped}


@pytest.mark.slow
def test_the_class_is_graded_and_each_good_notebook_as_usual(hostile):
    rows = {r["student_id"]: r for r in csv.DictReader(open(hostile["out"] / "grader" / "grades.csv", newline=""))}
    assert sorted(rows) == sorted(results.spreadsheet_safe(s) for s in hostile["graded"])
    saved = {sid: json.loads((hostile["out"] / "grader" / "results" / f"{sid}.json").read_text())
             for sid in hostile["graded"]}
    for sid in ["ann", "ben"]:  # the lesson, unfilled
        assert saved[sid]["status"] == "ok" and (rows[sid]["total"], rows[sid]["max_score"]) == ("0.0", "24.0")
    assert "draft \\xff.ipynb" in saved["ann"]["submission_note"]
    assert "n" * 249 + ".ipynb" in saved["ben"]["submission_note"]
    assert {saved[sid]["status"] for sid in GRADED} == {"unreadable"}


@pytest.mark.slow
def test_each_graded_name_has_its_page_and_executed_notebook_under_that_name(hostile):
    out = hostile["out"]
    for sid in hostile["graded"]:
        assert (out / "feedback" / sid / A / f"{A}.html").is_file(), sid
    assert (out / "autograded" / "ann" / A / f"{A}.ipynb").is_file()


@pytest.mark.slow
def test_the_printed_table_has_one_line_per_student_and_says_why_one_was_not_graded(hostile):
    lines = hostile["proc"].stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("student "))
    table = lines[start + 1:start + 1 + len(hostile["graded"]) + len(hostile["skipped"])]
    assert sorted(line.split("  ")[0].rstrip() for line in table if "not graded: " not in line) == \
        sorted(hostile["graded"])
    assert sorted(line.split("  ")[0].rstrip() for line in table if "  -  not graded: " in line) == \
        sorted(hostile["skipped"])
    assert lines[start + 1 + len(table)].startswith("graded ")


@pytest.mark.slow
def test_each_skipped_folder_is_said_with_why_in_the_warnings_and_the_report(hostile):
    err = hostile["proc"].stderr
    report = (hostile["out"] / "grader" / "report.html").read_text()
    for raw, why in SKIPPED:
        assert f"warning: skipped {shown(os.fsdecode(raw))}: {id_problem(os.fsdecode(raw))}" in err
        assert why.replace("'", "&#39;") in report
    assert "Folders not graded" in report
    assert "note: not graded, files that are not student folders: a-file\n" in err
