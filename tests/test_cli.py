"""The `autograde` command as users run it: the demo on the bundled class, and the student's self-check."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograde import paths

pytestmark = pytest.mark.slow  # grades a class, builds a venv or kills a grader: `make test-fast` leaves it out

SAMPLES = paths.REPO_ROOT / "autograde" / "samples"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def table_row(stdout, sid):
    """A student's line of the grade table, as words: automatic, by hand, pending, total, note."""
    return next(line.split() for line in stdout.splitlines() if line.startswith(sid + " "))


def autograde(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "autograde.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout, cwd=paths.REPO_ROOT)


@pytest.fixture(scope="module")
def demo(demo_in_a_clone):
    """The demo's OUT and what it printed (conftest grades it once, in a clone of the working tree)."""
    clone, proc = demo_in_a_clone
    return clone / "out" / "demo", proc.stdout


def test_demo_prints_the_grade_table_and_where_feedback_is(demo):
    out, stdout = demo
    assert ["student", "automatic", "by", "hand", "pending", "total", "note"] in [line.split() for line in stdout.splitlines()]
    assert table_row(stdout, "alice") == ["alice", "20", "/", "20", "\u2013", "4", "20", "/", "24"]
    assert f"{out}/feedback/<student>/accel_sgd/accel_sgd.html" in stdout
    assert f"{out}/grader/report.html" in stdout


def test_demo_grades_the_sample_class_as_its_readme_says(demo):
    out, _ = demo
    scores = {r["student_id"]: float(r["total"]) for r in csv.DictReader(open(out / "grader" / "grades.csv"))}
    assert scores["alice"] == 20.0 and scores["frank"] == 0.0 and scores["dave"] == 0.0
    assert 0 < scores["erin"] < 20 and 0 < scores["bob"] < 20 and 0 < scores["carol"] < 20
    named = {(r["student_id"], r["grade_id"]) for r in csv.DictReader(open(out / "grader" / "cells.csv"))
             if "Looks like:" in r["message"]}
    assert ("bob", "test_adam_small") in named and ("bob", "test_momentum_small") in named
    assert {("carol", "test_rmsprop_small"), ("carol", "test_recorder_cb"), ("carol", "test_base_sched_cb")} <= named


def test_demo_reports_each_named_mistake_to_the_instructor(demo):
    report = (demo[0] / "grader" / "report.html").read_text()
    for name in ["eps outside the square root", "un-dampened (PyTorch-style) momentum",
                 "RMSProp state initialised with zeros", "recorder not reset between fits",
                 "scheduler stepped during validation"]:
        assert name in report


def test_self_check_passes_a_finished_notebook():
    proc = autograde("check", str(SAMPLES / "alice" / "accel_sgd" / "accel_sgd.ipynb"), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "9 of 9 exercises pass their visible checks." in proc.stdout


def test_self_check_names_the_mistakes_it_sees():
    proc = autograde("check", str(SAMPLES / "bob" / "accel_sgd" / "accel_sgd.ipynb"), timeout=300)
    assert proc.returncode == 1
    lines = {line.split()[1]: line for line in proc.stdout.splitlines() if line.startswith(("PASS", "FAIL"))}
    assert lines["adam"].startswith("FAIL") and "eps outside the square root" in lines["adam"]
    assert lines["momentum"].startswith("FAIL") and "un-dampened" in lines["momentum"]
    assert lines["sgd"].startswith("PASS") and lines["recorder_cb"].startswith("PASS")


def test_grade_refuses_an_empty_folder(tmp_path):
    (tmp_path / "submitted").mkdir()
    proc = autograde("grade", str(tmp_path / "submitted"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert f"autograde grade: no submissions found under {tmp_path / 'submitted'}" in proc.stderr


def test_grading_unchanged_notebooks_again_reuses_every_result(demo, tmp_path):
    import shutil
    out = tmp_path / "out"
    shutil.copytree(demo[0], out)
    shutil.rmtree(out / "feedback")
    for sid in ("alice", "bob"):
        shutil.copytree(SAMPLES / sid, tmp_path / "submitted" / sid)
    proc = autograde("grade", str(tmp_path / "submitted"), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 submission(s) unchanged" in proc.stderr
    assert table_row(proc.stdout, "alice") == ["alice", "20", "/", "20", "\u2013", "4", "20", "/", "24"]
    assert "adam_eps_outside, momentum_undampened" in proc.stdout
    assert (out / "feedback" / "bob" / "accel_sgd" / "accel_sgd.html").exists()


def test_feedback_before_any_grading_says_what_to_run(tmp_path):
    proc = autograde("feedback", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert f"autograde feedback: nothing graded into {tmp_path} yet" in proc.stderr and "run autograde grade first" in proc.stderr
