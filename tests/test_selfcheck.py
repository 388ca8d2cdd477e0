"""`autograde check` agrees with `autograde grade` per exercise, for the same notebooks: FAIL only where
grading takes points from that exercise, DEPENDS only where a class it builds on fails (grading then
judges it over the course's class), PASS where grading gives full marks.

The class below holds every one of the 29 catalogued mistakes (in six notebooks, one mistake per
exercise each), correct classes over a parent with a catalogued mistake, an added helper cell an
answer uses, reordered cells, course cells edited outside the answers, deleted cells and an unfilled
exercise. It is graded once with the real command line, and self-checked notebook by notebook.
"""
import csv
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.trusted import mistakes, solution as reference
from autograde.visible.lessons.accel_sgd import LESSON
from autograde.running.sandbox import Limits
from autograde.selfcheck import fresh_copy, released_lesson, self_check, written_answers
from corpus import HELPER, MOMENTUM_WITH_HELPER, notebook_with
EXERCISES = LESSON.classes

# One class graded and fourteen notebooks self-checked: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.timeout(3600), pytest.mark.slow]  # runs the self-check over whole notebooks
# Generous limits, here and for the grading: a time-out on a busy machine must not pass for a verdict.
LIMITS = Limits(wall_s=900, cell_s=300)

LESSON = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
WRITTEN = {"written_wd_vs_l2": "They differ once the optimizer rescales the gradient.",
           "written_adam_eps": "Both averages start at zero."}


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)


def _with_mistakes(keys) -> dict:
    """The solution's answers with these catalogued mistakes made (at most one per exercise)."""
    sources = reference.solution_sources()
    for key in keys:
        m = mistakes.BY_KEY[key]
        sources[m.exercise] = mistakes.apply_edits(sources[m.exercise], m)
    return sources


def _mistake_rounds() -> list[list[str]]:
    """Round i makes the i-th catalogued mistake of every exercise: six rounds hold all 29."""
    per_exercise = {e: [m.key for m in mistakes.CATALOGUE if m.exercise == e] for e in EXERCISES}
    rounds = max(len(v) for v in per_exercise.values())
    return [[keys[i] for keys in per_exercise.values() if i < len(keys)] for i in range(rounds)]


def _reordered(nb):
    """Answer cells moved: RMSProp's before Momentum's, and the markdown cells reversed among themselves."""
    rms = nb.cells.pop(_index(nb, "rmsprop"))
    nb.cells.insert(_index(nb, "momentum"), rms)
    md = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and not _gid(c)]
    texts = [nb.cells[i] for i in md][::-1]
    for i, cell in zip(md, texts):
        nb.cells[i] = cell


def _course_cells_edited(nb):
    """Edits outside the answers: a check replaced, the setup cell's check() and a hidden test rewritten."""
    nb.cells[_index(nb, "check_sgd")].source = "print('all good')"
    nb.cells[_index(nb, "setup")].source += "\ncheck = lambda *a, **k: print('all good')\n"
    nb.cells[_index(nb, "test_adam_small")].source = "pass"


def _deleted(nb):
    """Check cells, hidden-test cells and the markdown gone."""
    nb.cells = [c for c in nb.cells if not (str(_gid(c)).startswith(("check_", "test_"))
                                             or (c.cell_type == "markdown" and not _gid(c)))]


def _unfilled_adam() -> dict:
    sources = reference.solution_sources()
    del sources["adam"]
    return sources


def _class() -> dict:
    lesson = nbformat.read(LESSON, as_version=4)
    solution = reference.solution_sources()
    helper_at = _index(lesson, "momentum")
    out = {
        "correct": notebook_with(lesson, {**solution, **WRITTEN}),
        "parents_wrong": notebook_with(lesson, _with_mistakes(["sgd_l2_not_decay", "sched_steps_in_validation"])),
        "helper_cell": notebook_with(lesson, {**solution, "momentum": MOMENTUM_WITH_HELPER},
                                     extra_cells=[(helper_at, HELPER)]),
        "helper_after_use": notebook_with(lesson, {**solution, "momentum": MOMENTUM_WITH_HELPER},
                                          extra_cells=[(len(lesson.cells), HELPER)]),
        "reordered": notebook_with(lesson, solution, edit=_reordered),
        "course_cells_edited": notebook_with(lesson, _with_mistakes(["adam_eps_outside"]), edit=_course_cells_edited),
        "deleted_cells": notebook_with(lesson, _with_mistakes(["recorder_not_reset"]), edit=_deleted),
        "unfilled_adam": notebook_with(lesson, _unfilled_adam()),
    }
    for i, keys in enumerate(_mistake_rounds()):
        out[f"mistakes_{i + 1}"] = notebook_with(lesson, _with_mistakes(keys))
    return out


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> dict:
    submitted = tmp_path_factory.mktemp("class") / "submitted"
    paths = {}
    for sid, nb in _class().items():
        path = submitted / sid / "accel_sgd" / "accel_sgd.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nbformat.from_dict(nb), path)
        paths[sid] = path
    return {"submitted": submitted, "paths": paths}


@pytest.fixture(scope="module")
def grade_verdicts(notebooks) -> dict:
    """student -> exercise -> passed (every hidden test of the exercise at full marks), from `autograde grade`."""
    out = notebooks["submitted"].parent / "out"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(notebooks["submitted"]), "--out",
                           str(out), "--jobs", "2", "--timeout", "1200", "--cell-timeout", "300"],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdicts: dict = {}
    for row in csv.DictReader(open(out / "grader" / "cells.csv")):
        spec = lessons.current().tests_by_id.get(row["grade_id"])
        if spec:
            ok = float(row["score"]) >= float(row["max_score"])
            per = verdicts.setdefault(row["student_id"], {})
            per[spec.exercise] = per.get(spec.exercise, True) and ok
    return verdicts


@pytest.fixture(scope="module")
def self_checks(notebooks) -> dict:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {sid: pool.submit(self_check, path, limits=LIMITS) for sid, path in notebooks["paths"].items()}
        return {sid: f.result() for sid, f in futures.items()}


def _agrees(full_marks: dict, outcomes: dict, exercise: str) -> bool:
    """PASS: grading gives full marks; FAIL: it takes points; DEPENDS: on a parent that fails here and in grading."""
    o = outcomes[exercise]
    if o.status == "depends":
        return outcomes[o.parent].status == "fail" and not full_marks[o.parent]
    return full_marks[exercise] == (o.status == "pass")


def test_the_self_check_agrees_with_grading_for_every_notebook_and_exercise(grade_verdicts, self_checks):
    differing = {(sid, e): (grade_verdicts[sid][e], result.outcomes[e].status, result.outcomes[e].message)
                 for sid, result in self_checks.items() for e in EXERCISES
                 if not _agrees(grade_verdicts[sid], result.outcomes, e)}
    assert not differing


def test_the_class_holds_every_catalogued_mistake():
    made = {k for keys in _mistake_rounds() for k in keys}
    assert made == set(mistakes.BY_KEY) and len(made) == 29


def test_every_catalogued_mistake_fails_its_exercise_in_the_self_check_or_depends_on_a_failing_parent(self_checks):
    for i, keys in enumerate(_mistake_rounds()):
        outcomes = self_checks[f"mistakes_{i + 1}"].outcomes
        for key in keys:
            got = outcomes[mistakes.BY_KEY[key].exercise]
            assert got.status == "fail" or (got.status == "depends" and outcomes[got.parent].status == "fail"), key


def test_a_correct_class_over_a_wrong_parent_depends_on_it_with_the_parent_s_method_named(self_checks):
    outcomes = self_checks["parents_wrong"].outcomes
    assert outcomes["sgd"].status == outcomes["base_sched_cb"].status == "fail"
    assert (outcomes["epoch_sched_cb"].status, outcomes["epoch_sched_cb"].parent) == ("depends", "base_sched_cb")
    assert outcomes["epoch_sched_cb"].message == (
        "EpochSchedCB's own code agrees, but the difference comes from BaseSchedCB._step, which EpochSchedCB "
        "inherits (scheduler stepped during validation): fix BaseSchedCB first.")
    assert all("SGD.reg_step, which" in outcomes[e].message for e in ("momentum", "rmsprop", "adam"))


def test_an_added_helper_cell_is_kept_where_the_student_put_it(self_checks):
    assert self_checks["helper_cell"].outcomes["momentum"].status == "pass"
    assert "NameError: name 'ema' is not defined" in self_checks["helper_after_use"].outcomes["momentum"].message


def test_an_unfilled_exercise_is_not_written_yet(self_checks):
    assert self_checks["unfilled_adam"].outcomes["adam"].message == (
        "Adam: not written yet: replace `raise NotImplementedError()` with your code.")


def test_edited_and_deleted_course_cells_change_nothing(self_checks):
    assert self_checks["course_cells_edited"].outcomes["sgd"].status == "pass"
    assert self_checks["course_cells_edited"].outcomes["adam"].status == "fail"
    assert self_checks["deleted_cells"].outcomes["recorder_cb"].status == "fail"
    assert self_checks["deleted_cells"].passed == len(EXERCISES) - 1


def test_written_answers_show_as_filled_or_empty(self_checks):
    assert self_checks["correct"].written == {"written_wd_vs_l2": True, "written_adam_eps": True}
    assert self_checks["helper_cell"].written == {"written_wd_vs_l2": False, "written_adam_eps": False}
    lesson = nbformat.read(LESSON, as_version=4)
    assert written_answers(lesson, lesson) == {"written_wd_vs_l2": False, "written_adam_eps": False}


def test_the_self_check_compares_with_the_released_lesson_not_the_file_it_checks(tmp_path):
    lesson = nbformat.read(released_lesson(), as_version=4)
    edited = notebook_with(lesson, reference.solution_sources(), extra_cells=[(_index(lesson, "momentum"), HELPER)])
    edited.cells[_index(edited, "momentum")].source = MOMENTUM_WITH_HELPER
    path = tmp_path / "accel_sgd.ipynb"
    nbformat.write(edited, path)
    result = self_check(path, limits=LIMITS)
    assert result.outcomes["momentum"].status == "pass", result.outcomes["momentum"].message


def test_a_fresh_copy_is_the_released_lesson_and_never_overwrites(tmp_path):
    target = fresh_copy(tmp_path / "work")
    assert target.read_bytes() == released_lesson().read_bytes()
    target.write_text("my work")
    with pytest.raises(FileExistsError):
        fresh_copy(tmp_path / "work")
    assert target.read_text() == "my work"
