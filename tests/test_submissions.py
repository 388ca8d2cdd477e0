"""What `autograde grade` grades in SUBMITTED, and what it refuses before grading anything.

One notebook per student, by a rule the student reads on their page; links out of SUBMITTED, loose
notebooks and other assignments are said, not silently dropped; a bad OUT stops the run in one
line; Ctrl-C keeps what was finished. Notebooks here are unreadable on purpose (graded without a
kernel), except the one the Ctrl-C test interrupts.
"""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from autograde import paths
from autograde import submissions

A = paths.ASSIGNMENT
SAMPLES = paths.REPO_ROOT / "autograde" / "samples"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
ENV.pop("AUTOGRADE_CACHE", None)


def autograde(*args, cwd=paths.REPO_ROOT, timeout=600):
    return subprocess.run([sys.executable, "-m", "autograde.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=timeout)


def notebook(path: Path, text: str = '{"cells": [', mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --- which notebook is graded -------------------------------------------------------------------

def test_the_notebook_named_like_the_assignment_is_graded_and_the_student_told(tmp_path):
    notebook(tmp_path / "ann" / A / "copy of accel_sgd.ipynb", mtime=2e9)
    chosen = notebook(tmp_path / "ann" / A / f"{A}.ipynb", mtime=1e9)
    [sub] = submissions.find(tmp_path, A, A).submissions
    assert sub.path == chosen
    assert sub.note == ("Your submission held 2 notebooks (accel_sgd.ipynb, copy of accel_sgd.ipynb); "
                        "accel_sgd.ipynb was graded, the one named like the assignment's notebook.")


def test_else_the_newest_notebook_is_graded(tmp_path):
    notebook(tmp_path / "ann" / A / "draft.ipynb", mtime=2e9)
    notebook(tmp_path / "ann" / A / "final.ipynb", mtime=1e9)
    [sub] = submissions.find(tmp_path, A, A).submissions
    assert sub.path.name == "draft.ipynb"
    assert sub.note.endswith("none is named accel_sgd.ipynb; draft.ipynb was graded, the newest.")


def test_a_single_notebook_needs_no_note(tmp_path):
    notebook(tmp_path / "ann" / A / "mine.ipynb")
    [sub] = submissions.find(tmp_path, A, A).submissions
    assert sub.path.name == "mine.ipynb" and sub.note == ""


def test_a_student_folder_linking_outside_submitted_is_skipped_with_a_warning(tmp_path):
    outside = tmp_path / "elsewhere"
    notebook(outside / A / f"{A}.ipynb")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mallory").symlink_to(outside)
    found = submissions.find(tmp_path / "sub", A, A)
    assert found.submissions == []
    assert found.warnings == [f"skipped mallory: its folder is a link to {outside}, outside {tmp_path / 'sub'}"]


def test_a_loose_notebook_under_submitted_is_named_in_a_warning(tmp_path):
    notebook(tmp_path / f"{A}.ipynb")
    found = submissions.find(tmp_path, A, A)
    assert found.submissions == [] and len(found.warnings) == 1
    assert found.warnings[0].startswith(f"{tmp_path / A}.ipynb is directly under {tmp_path}, not in a student's folder")


def test_other_assignments_are_listed(tmp_path):
    notebook(tmp_path / "ann" / "week2" / "week2.ipynb")
    notebook(tmp_path / "ben" / A / f"{A}.ipynb")
    found = submissions.find(tmp_path, A, A)
    assert [s.student_id for s in found.submissions] == ["ben"] and found.other_assignments == ["week2"]


def test_the_timestamp_nbgrader_wrote_travels_with_the_submission(tmp_path):
    notebook(tmp_path / "ann" / A / f"{A}.ipynb")
    (tmp_path / "ann" / A / "timestamp.txt").write_text("2026-11-30 09:15:02.250000 UTC\n")
    [sub] = submissions.find(tmp_path, A, A).submissions
    assert sub.timestamp == "2026-11-30 09:15:02.250000 UTC"


# --- the command, on a class with all of the above (no kernel runs) -----------------------------

@pytest.fixture(scope="module")
def messy_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    sub, out = root / "submitted", root / "out"
    notebook(sub / "zed" / A / f"{A}.ipynb")
    notebook(sub / "zed" / A / "old.ipynb")
    notebook(sub / f"{A}.ipynb")
    notebook(root / "elsewhere" / A / f"{A}.ipynb")
    (sub / "mallory").symlink_to(root / "elsewhere")
    proc = autograde("grade", str(sub), "--out", str(out), "--jobs", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"out": out, "sub": sub, "proc": proc}


@pytest.mark.slow
def test_the_command_grades_one_notebook_and_says_which(messy_class):
    rows = list(csv.DictReader(open(messy_class["out"] / "grader" / "grades.csv")))
    assert [r["student_id"] for r in rows] == ["zed"]
    assert ("zed: Your submission held 2 notebooks (accel_sgd.ipynb, old.ipynb); accel_sgd.ipynb was graded, "
            "the one named like the assignment's notebook.") in messy_class["proc"].stderr


@pytest.mark.slow
def test_the_student_page_says_which_notebook_was_graded(messy_class):
    page = (messy_class["out"] / "feedback" / "zed" / A / f"{A}.html").read_text()
    assert "Which notebook was graded" in page and "accel_sgd.ipynb was graded" in page


@pytest.mark.slow
def test_the_command_warns_about_the_link_and_the_loose_notebook(messy_class):
    err = messy_class["proc"].stderr
    assert f"warning: skipped mallory: its folder is a link to {messy_class['sub'].parent / 'elsewhere'}" in err
    assert f"warning: {messy_class['sub'] / A}.ipynb is directly under {messy_class['sub']}" in err


# --- a wrong setting stops the run before grading, in one line ----------------------------------

def one_line_refusal(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("autograde grade: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_out_inside_submitted_is_refused(tmp_path):
    notebook(tmp_path / "sub" / "ann" / A / f"{A}.ipynb")
    line = one_line_refusal(autograde("grade", str(tmp_path / "sub"), "--out", str(tmp_path / "sub" / "graded")))
    assert f"--out {tmp_path / 'sub' / 'graded'} is inside the submissions folder" in line
    assert not (tmp_path / "sub" / "graded").exists()


def test_an_out_that_cannot_be_written_is_refused(tmp_path):
    notebook(tmp_path / "sub" / "ann" / A / f"{A}.ipynb")
    (tmp_path / "a-file").write_text("")
    line = one_line_refusal(autograde("grade", str(tmp_path / "sub"), "--out", str(tmp_path / "a-file" / "out")))
    assert line == f"autograde grade: cannot write to --out {tmp_path / 'a-file' / 'out'}: Not a directory"


def test_submissions_for_other_assignments_only_are_an_error_that_names_them(tmp_path):
    notebook(tmp_path / "sub" / "ann" / "week2" / "week2.ipynb")
    notebook(tmp_path / "sub" / "ben" / "week3" / "week3.ipynb")
    line = one_line_refusal(autograde("grade", str(tmp_path / "sub"), "--out", str(tmp_path / "out")))
    assert line.endswith(f"no submissions for {A} under {tmp_path / 'sub'}: it holds only week2, week3")


# --- Ctrl-C ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_keeps_the_results_already_graded(tmp_path):
    sub, out = tmp_path / "sub", tmp_path / "out"
    notebook(sub / "aaa" / A / f"{A}.ipynb")  # unreadable: graded at once, first
    notebook(sub / "bob" / A / f"{A}.ipynb", (SAMPLES / "bob" / A / f"{A}.ipynb").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "autograde.cli", "grade", str(sub), "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=paths.REPO_ROOT)
    kept = out / "grader" / "cache" / "results"
    deadline = time.monotonic() + 300
    while not list(kept.glob("*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # while bob's notebook runs
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted: 1 submission(s) graded in this run were kept" in stderr
    assert len(list(kept.glob("*.json"))) == 1



def test_background_work_runs_in_a_daemon_thread_that_exit_does_not_wait_for():
    import threading
    from autograde import classgrade
    release = threading.Event()
    future = classgrade.in_background(release.wait, 600)
    waiting = [t for t in threading.enumerate() if t.name == "wait"]
    assert waiting and all(t.daemon for t in waiting)
    release.set()
    assert future.result(timeout=10) is True


def test_a_stopped_warm_up_computes_no_further_test(monkeypatch):
    import threading
    from autograde.trusted import grade, judge
    computed = []
    monkeypatch.setattr(judge, "reference_data", computed.append)
    stop = threading.Event()
    grade._warm_reference(grade.load_setup(), stop)
    assert len(computed) > 1  # not stopped: every test of the lesson
    computed.clear()
    stop.set()
    grade._warm_reference(grade.load_setup(), stop)
    assert computed == []


def test_a_background_failure_reaches_whoever_asks_for_the_result():
    from autograde import classgrade
    future = classgrade.in_background(int, "not a number")
    with pytest.raises(ValueError):
        future.result(timeout=10)


def test_each_kernel_gets_its_share_of_the_cores_counting_those_started_ahead():
    from autograde.classgrade import kernel_threads
    assert kernel_threads(cores=2, jobs=1, count=1) == 2  # alone: nothing is started beside it
    assert kernel_threads(cores=2, jobs=1, count=20) == 1  # the next kernel starts beside it
    assert kernel_threads(cores=16, jobs=2, count=20) == 4
    assert kernel_threads(cores=16, jobs=2, count=2) == 8
    assert kernel_threads(cores=2, jobs=4, count=20) == 1  # never below one
