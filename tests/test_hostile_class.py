"""The hostile class, round 2, graded in one run (issue 21): every attack beside correct answers.

The class holds each attack of round 2 that a submission can carry: a retest that tries to carry
the course's code out, two byte-identical notebooks that look for a key a third one adds, student
folders and notebooks that are links to another student's, a hard-linked notebook, script in a
written answer and in a rich output, hostile folder names, outputs and a submission_secret.txt far
over their caps. Graded once with the real command line, the run exits 0, every correct answer gets
full marks, each attacker gets what its own honest work earns, and nothing is left on the host.
(The memory cap and a killed grader have tests of their own: test_size_caps.py, test_grader_killed.py.)
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest

from autograde import paths
from autograde.running import cgroups, sandbox
from autograde.trusted import solution as reference
from corpus import notebook_with
from test_retest_leak import LEAKING_MOMENTUM, OWN_SGD, _unwritten_solution_lines

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sandbox.bwrap_available(), reason="the attacks need the real sandbox")]

LESSON = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
AUTO_MAX = 20.0
WRITTEN = ("written_wd_vs_l2", "written_adam_eps")

ADD_KEY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
key = libc.syscall(248, b"user", b"answers", b"psst: SGD = None", 16, ctypes.c_int(-4))  # add_key, user keyring
print("add_key:", key, os.strerror(ctypes.get_errno()))
"""
FIND_KEY = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
found = libc.syscall(250, 10, ctypes.c_int(-4), b"user", b"answers", 0)  # keyctl(KEYCTL_SEARCH)
if found > 0:
    SGD = None  # what the colluder's key says to do: graded only if a key crossed between kernels
"""
XSS_ANSWER = "Decay shrinks the weights. <img src=x onerror=\"document.title='pwned'\"><script>alert(1)</script>"
XSS_OUTPUT = "from IPython.display import HTML, display\ndisplay(HTML(\"<b>hi</b><script>document.title='pwned'</script>\"))"
BIG_IMAGES = """
import base64
from IPython.display import display
png = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==')
for _ in range(12):
    display({'image/png': base64.b64encode(png + b'\\0' * 3_000_000).decode()}, raw=True)
"""
NAMES = {"=2+5": "graded", "back\\slash": "skipped", ".hidden": "skipped", "x" * 200: "skipped"}


def _write(submitted: Path, sid: str | bytes, nb) -> Path:
    folder = Path(os.fsdecode(os.path.join(os.fsencode(submitted), os.fsencode(sid), b"accel_sgd")))
    folder.mkdir(parents=True)
    nbformat.write(nbformat.from_dict(nb), folder / "accel_sgd.ipynb")
    return folder / "accel_sgd.ipynb"


def _written(nb, source):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "written_wd_vs_l2":
            cell.source = source


def _key_users() -> set[str]:
    return {line.split(":")[0].strip() for line in Path("/proc/key-users").read_text().splitlines()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    submitted, out, tmp = root / "submitted", root / "out", root / "tmp"
    tmp.mkdir()
    lesson = nbformat.read(LESSON, as_version=4)
    sol = reference.solution_sources()
    correct = notebook_with(lesson, sol)
    alice = _write(submitted, "alice", correct)
    _write(submitted, "bob", correct)
    _write(submitted, "mallory", notebook_with(lesson, {**sol, "sgd": OWN_SGD, "momentum": LEAKING_MOMENTUM}))
    _write(submitted, "keyring_writer", notebook_with(lesson, sol, extra_cells=[(3, ADD_KEY)]))
    for sid in ("keyring_reader1", "keyring_reader2"):  # byte-identical: graded the same, reported together
        _write(submitted, sid, notebook_with(lesson, sol, extra_cells=[(len(lesson.cells) - 1, FIND_KEY)]))
    xss = notebook_with(lesson, sol, extra_cells=[(3, XSS_OUTPUT)])
    _written(xss, XSS_ANSWER)
    _write(submitted, "xss", xss)
    _write(submitted, "big_outputs", notebook_with(lesson, sol, extra_cells=[(3, BIG_IMAGES)]))
    secret = _write(submitted, "big_secret", correct).parent / "submission_secret.txt"
    with open(secret, "wb") as f:
        f.truncate(100 * 2**20)  # sparse: 100 MB to copy, nothing on disk
    for name in NAMES:
        _write(submitted, name, correct)
    _write(submitted, b"caf\xe9", correct)  # not UTF-8
    (submitted / "linked_folder").symlink_to(submitted / "alice")
    (submitted / "linked_notebook" / "accel_sgd").mkdir(parents=True)
    (submitted / "linked_notebook" / "accel_sgd" / "accel_sgd.ipynb").symlink_to(alice)
    (submitted / "hardlinked" / "accel_sgd").mkdir(parents=True)
    os.link(alice, submitted / "hardlinked" / "accel_sgd" / "accel_sgd.ipynb")

    keys_before = _key_users()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "TMPDIR": str(tmp)}
    proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(submitted), "--out", str(out),
                           "--jobs", "2", "--timeout", "240", "--cell-timeout", "60"],
                          capture_output=True, env=env, timeout=1800)
    cells: dict = {}
    if (out / "grader" / "cells.csv").exists():  # else the first test shows what the grader said
        for r in csv.DictReader(open(out / "grader" / "cells.csv", encoding="utf-8")):
            cells.setdefault(r["student_id"], {})[r["grade_id"]] = r
    return {"proc": proc, "out": out, "tmp": tmp, "cells": cells, "keys_before": keys_before,
            "stdout": proc.stdout.decode(errors="replace"), "stderr": proc.stderr.decode(errors="replace")}


def auto(graded, sid) -> float:
    return sum(float(c["score"]) for gid, c in graded["cells"][sid].items() if gid not in WRITTEN)


def test_the_class_is_graded_in_one_run_with_exit_0(graded):
    assert graded["proc"].returncode == 0, graded["stdout"] + graded["stderr"]


@pytest.mark.parametrize("sid", ["alice", "bob", "hardlinked", "keyring_writer", "keyring_reader1",
                                 "keyring_reader2", "xss", "big_outputs", "big_secret", "'=2+5"])
def test_correct_answers_get_full_marks_whatever_else_the_notebook_does(graded, sid):
    assert auto(graded, sid) == AUTO_MAX, graded["cells"][sid]


def test_the_retest_attacker_gets_points_but_no_solution_line(graded):
    text = "\n".join(c["message"] for c in graded["cells"]["mallory"].values())
    page = next((graded["out"] / "feedback" / "mallory").rglob("*.html")).read_text()
    assert 0 < auto(graded, "mallory") < AUTO_MAX
    assert not [line for line in _unwritten_solution_lines([OWN_SGD, LEAKING_MOMENTUM]) if line in text + page]


def test_links_are_not_graded_and_are_said(graded):
    assert "linked_folder" not in graded["cells"] and "linked_notebook" not in graded["cells"]
    assert "linked_folder" in graded["stdout"] + graded["stderr"]
    assert "linked_notebook" in graded["stdout"] + graded["stderr"]


def test_identical_notebooks_are_reported_together(graded):
    said = graded["stdout"] + graded["stderr"]
    report = (graded["out"] / "grader" / "report.html").read_text()
    for group in (("alice", "bob", "hardlinked", "big_secret"), ("keyring_reader1", "keyring_reader2")):
        assert all(sid in report for sid in group)
    assert "keyring_reader1, keyring_reader2" in said


def test_hostile_names_are_graded_as_they_are_or_skipped_with_a_reason(graded):
    said = graded["stdout"] + graded["stderr"]
    assert "'=2+5" in graded["cells"]  # graded under its own name, neutralised in the CSVs
    assert (graded["out"] / "feedback" / "=2+5").is_dir()
    for name, fate in NAMES.items():
        if fate == "skipped":
            assert name not in graded["cells"] and name[:40] in said.replace("\\\\", "\\"), name


def test_no_script_reaches_the_autograded_notebooks(graded):
    for sid in ("xss",):
        nb = json.loads(next((graded["out"] / "autograded" / sid).rglob("*.ipynb")).read_text())
        rendered = json.dumps([[c["source"] for c in nb["cells"] if c["cell_type"] == "markdown"],
                               [c.get("outputs") for c in nb["cells"]]])  # code sources are shown as text
        assert "onerror" not in rendered and "<script" not in rendered
        assert "Decay shrinks the weights." in rendered and "<b>hi</b>" in rendered


def test_outputs_and_files_over_their_caps_stay_out_of_the_outputs(graded):
    out = graded["out"]
    big = sum(p.stat().st_size for p in (out / "autograded" / "big_outputs").rglob("*"))
    assert big < 60 * 2**20
    assert not (out / "autograded" / "big_secret" / "accel_sgd" / "submission_secret.txt").exists()


def test_no_key_crossed_and_none_is_left_on_the_host(graded):
    assert _key_users() <= graded["keys_before"] | {"0"}


def test_nothing_of_the_run_is_left_on_the_host(graded):
    mark = str(graded["tmp"])
    left = []
    for p in psutil.process_iter():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and (any(mark in a for a in p.cmdline())
                                                       or any(mark in v for v in p.environ().values())):
                left.append(p)
        except psutil.Error:
            pass
    assert not left
    assert not list(graded["tmp"].glob("autograde-*"))
    grader_groups = [g for parent in cgroups.group_parents() for g in parent.glob("autograde-*")]
    assert not [g for g in grader_groups if (g / "cgroup.procs").exists() and (g / "cgroup.procs").read_text().strip()
                and any(mark in " ".join(psutil.Process(int(pid)).cmdline())
                        for pid in (g / "cgroup.procs").read_text().split() if psutil.pid_exists(int(pid)))]
