"""A second lesson, added as new files only, runs through the whole workflow (issue 11).

The EMA lesson (two exercises, the second building on the first; one catalogued mistake) lives in
autograde/visible/lessons/ema/ (registry, drivers, expected.json), autograde/trusted/lessons/ema/
(mistake, judge) and tests/fixtures/ema_course/ (its nbgrader course: the solutions notebook, whose
cell metadata holds the points). AUTOGRADE_LESSON=ema selects it, or the course folder whose source/
holds ema/ema.ipynb; nothing else is configured. The
commands run as the instructor and the student run them: `autograde release`, `autograde check`,
`autograde grade`, with real sandboxed kernels.
"""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde.visible import lesson

pytestmark = pytest.mark.slow  # grades a class, builds a venv or kills a grader: `make test-fast` leaves it out

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "ema_course"
EXPECTED = REPO / "autograde" / "visible" / "lessons" / "ema" / "expected.json"

RIGHT = {
    "ema": "class EMA:\n    def __init__(self, beta):\n        self.beta, self.avg = beta, 0.0\n\n"
           "    def update(self, x):\n        self.avg = self.beta * self.avg + (1 - self.beta) * x\n        return self.avg\n",
    "debiased_ema": "class DebiasedEMA(EMA):\n    def __init__(self, beta):\n        super().__init__(beta)\n        self.n = 0\n\n"
                    "    def update(self, x):\n        self.n += 1\n        return super().update(x) / (1 - self.beta ** self.n)\n",
}
SWAPPED = {**RIGHT, "ema": RIGHT["ema"].replace("self.beta * self.avg + (1 - self.beta) * x",
                                                "(1 - self.beta) * self.avg + self.beta * x")}


def autograde(*args, cwd: Path, cache: Path, name_the_lesson: bool = True) -> subprocess.CompletedProcess:
    """The CLI as a person runs it; `name_the_lesson`: set AUTOGRADE_LESSON (else the course folder says it)."""
    env = {**os.environ, "AUTOGRADE_CACHE": str(cache)}
    env.pop("AUTOGRADE_SOLUTIONS", None)
    env.pop("AUTOGRADE_LESSON", None)
    if name_the_lesson:
        env["AUTOGRADE_LESSON"] = "ema"
    return subprocess.run([sys.executable, "-m", "autograde.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def answered(released: Path, answers: dict) -> str:
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The EMA course, released by `autograde release` (nbgrader generate_assignment)."""
    root = tmp_path_factory.mktemp("ema") / "course"
    shutil.copytree(FIXTURE, root)
    cache = root.parent / "cache"
    before = EXPECTED.read_bytes()
    done = autograde("release", "--course", str(root), cwd=root, cache=cache)
    assert done.returncode == 0, done.stderr
    assert EXPECTED.read_bytes() == before  # the committed visible expectations are what release writes
    return root, cache


def test_the_lesson_is_only_its_registry():
    ema = lesson.load("ema")
    assert ema.classes == {"ema": "EMA", "debiased_ema": "DebiasedEMA"}
    assert ema.parents("test_debiased_ema") == ("ema",)
    assert lesson.for_test("test_ema") is ema and lesson.for_exercise("debiased_ema") is ema


def test_release_strips_solutions_and_hidden_tests(course):
    root, _ = course
    released = (root / "release" / "ema" / "ema.ipynb").read_text()
    assert "NotImplementedError" in released and "probe(" not in released
    assert "self.beta * self.avg" not in released and "check('ema', EMA)" in released


def test_self_check_passes_a_filled_copy_and_names_the_mistake(course):
    root, cache = course
    released = root / "release" / "ema" / "ema.ipynb"
    work = root / "work"
    work.mkdir()
    (work / "right.ipynb").write_text(answered(released, RIGHT))
    (work / "swapped.ipynb").write_text(answered(released, SWAPPED))
    right = autograde("check", "work/right.ipynb", cwd=root, cache=cache)
    assert right.returncode == 0, right.stdout + right.stderr
    assert "2 of 2 exercises pass their visible checks" in right.stdout
    swapped = autograde("check", "work/swapped.ipynb", cwd=root, cache=cache)
    assert swapped.returncode == 1
    rows = [line.split(None, 2) for line in swapped.stdout.splitlines() if line.startswith(("PASS", "FAIL", "DEPENDS"))]
    marks, lines = {r[1]: r[0] for r in rows}, {r[1]: r[2] for r in rows}
    assert marks == {"ema": "FAIL", "debiased_ema": "DEPENDS"}
    assert lines["ema"].startswith("EMA: Looks like: the average's weights swapped.")
    # DebiasedEMA builds on EMA (the registry's builds_on): grading judges it over the course's EMA (full
    # marks below), so its check depends on EMA rather than failing, and knows EMA's mistake
    debiased = lines["debiased_ema"]
    assert debiased.startswith("DebiasedEMA builds on EMA, which fails its own check")
    assert "The difference looks like: the average's weights swapped." in debiased
    assert swapped.stdout.rstrip().endswith("0 of 2 exercises pass their visible checks.")


def test_grading_a_tiny_class_end_to_end(course):
    root, cache = course
    released = root / "release" / "ema" / "ema.ipynb"
    for student, answers in {"right": RIGHT, "stub": {}, "swapped": SWAPPED}.items():
        folder = root / "submitted" / student / "ema"
        folder.mkdir(parents=True)
        (folder / "ema.ipynb").write_text(answered(released, answers))
    # No AUTOGRADE_LESSON: the course folder's source/ holds ema/ema.ipynb, so the grader takes that lesson.
    done = autograde("grade", "--course", str(root), "--out", str(root / "out"), "--jobs", "1", cwd=root,
                     cache=cache, name_the_lesson=False)
    assert done.returncode == 0, done.stdout + done.stderr
    grader = root / "out" / "grader"
    with open(grader / "grades.csv") as f:
        totals = {r["student_id"]: (float(r["total"]), float(r["max_score"])) for r in csv.DictReader(f)}
    assert totals == {"right": (3.0, 3.0), "stub": (0.0, 3.0), "swapped": (1.0, 3.0)}
    with open(grader / "cells.csv") as f:
        cells = {(r["student_id"], r["grade_id"]): r for r in csv.DictReader(f)}
    assert cells["swapped", "test_ema"]["message"].startswith("Looks like: the average's weights swapped.")
    # graded over the solution's EMA (its own EMA lost points in test_ema): full marks, with a note
    assert float(cells["swapped", "test_debiased_ema"]["score"]) == 1.0
    assert "Graded over the course's EMA" in cells["swapped", "test_debiased_ema"]["message"]
