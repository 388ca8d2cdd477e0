"""The self-check's and the in-notebook checks' three states agree with grading (issue 20, items 1, 2, 7).

PASS: the public checks pass. FAIL: grading takes points from that exercise too. DEPENDS: a class it
builds on fails its own check; grading judges it over the course's version of that class, which the
kit does not have, so the check must not say FAIL.

Grading's verdict per exercise is computed in this process, as tests/test_fair_grades.py does: the
trusted judge on the data the same drivers produce, and the retest over the solution's parents
(isolation.to_retest) for a test whose parents lost points. Only the non-costly hidden tests are
judged (the training runs name no mistake): a FAIL needs one of them to lose points, so that is
enough to show grading takes points. The in-notebook state is checks.outcome, which check() shows
and the self-check's kernel reports back; the self-check's own judging of the executed notebook
(selfcheck.judged) is tested on executed notebooks, and end to end through `autograde check`.
"""
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

from autograde import paths, selfcheck
from autograde.running.notebook import canonical_notebook, grade_id
from autograde.running.sandbox import RunResult
from autograde.trusted import isolation, judge, mistakes, solution as reference
from autograde.visible import checks
from autograde.visible.checks import Outcome
from autograde.visible.lessons.accel_sgd import LESSON
from corpus import CORRECT_VARIANTS, HELPER, MOMENTUM_WITH_HELPER, notebook_with

RELEASED = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
SOLUTIONS = paths.REPO_ROOT / "solutions" / "accel_sgd" / "accel_sgd.ipynb"
SMALL = {t for t, s in LESSON.tests_by_id.items() if not s.costly}

# The mistake from the issue: BaseSchedCB builds its scheduler in the first fit only.
ONCE = ("self.schedo = self.sched(learn.opt)", "if not hasattr(self, 'schedo'): self.schedo = self.sched(learn.opt)")
TORCHVISION = "operator torchvision::nms does not exist"
PASS, FAIL, DEPENDS = "pass", "fail", "depends"


@lru_cache(maxsize=None)
def _sol() -> dict:
    return reference.solution_sources()


@lru_cache(maxsize=None)
def _stubs() -> dict:
    """Each answer as the released lesson hands it out: not written yet."""
    return {grade_id(c): c.source for c in nbformat.read(RELEASED, as_version=4).cells
            if grade_id(c) in LESSON.classes}


def _once(source: str) -> str:
    assert ONCE[0] in source
    return source.replace(*ONCE)


PARENTS = sorted({p for e in LESSON.exercises for p in e.builds_on})


def _parent_answers(parent: str) -> dict:
    """Every catalogued mistake of the parent, its unwritten stub, and (BaseSchedCB) the issue's case."""
    out = {m.key: mistakes.apply_edits(_sol()[parent], m) for m in mistakes.CATALOGUE if m.exercise == parent}
    out["not written"] = _stubs()[parent]
    if ONCE[0] in _sol()[parent]:
        out["scheduler built once"] = _once(_sol()[parent])
    return out


def _child_answers(child: str) -> dict:
    """The child written right (the solution and each correct variant), with each of its own
    catalogued mistakes, and not written."""
    out = {"solution": _sol()[child]}
    out.update({f"variant {k}": v[child] for k, v in CORRECT_VARIANTS.items() if child in v})
    out.update({m.key: mistakes.apply_edits(_sol()[child], m) for m in mistakes.CATALOGUE if m.exercise == child})
    out["not written"] = _stubs()[child]
    return out


CASES = [(p, name, c) for p in PARENTS for name in _parent_answers(p)
         for c in (e.grade_id for e in LESSON.exercises if p in e.builds_on)]


def _score(sources: dict, test_id: str) -> float:
    classes = reference.solution_classes(sources)
    test = LESSON.tests_by_id[test_id]
    return judge.judge(test_id, LESSON.collect(test_id, *(classes[c] for c in test.classes))).score


@lru_cache(maxsize=None)
def _retest_score(parents_and_own: tuple, test_id: str) -> float:
    """A test's score in the second run, over the solution's parents (depends on the test's own answer only)."""
    return _score({**_sol(), **dict(parents_and_own)}, test_id)


def grading(sources: dict, exercises) -> dict:
    """exercise -> its lowest score over its small hidden tests, as grading leaves it: a test whose
    parents lost points is run again over the solution's parents and keeps the better score."""
    involved = {a for e in exercises for a in (e, *LESSON.ancestors(e))}
    scores = {t: _score(sources, t) for t in SMALL if LESSON.tests_by_id[t].exercise in involved}
    for t in isolation.to_retest(scores):
        own = LESSON.tests_by_id[t].exercise
        scores[t] = max(scores[t], _retest_score(((own, sources[own]),), t))
    return {e: min(s for t, s in scores.items() if LESSON.tests_by_id[t].exercise == e) for e in exercises}


def states(sources: dict, exercises) -> dict:
    classes = reference.solution_classes(sources)
    return {e: checks.outcome(e, classes[LESSON.classes[e]]) for e in exercises}


@pytest.mark.parametrize("parent,answer,child", CASES, ids=lambda x: str(x))
def test_over_a_failing_parent_a_child_depends_and_never_fails_where_grading_gives_full_marks(parent, answer, child):
    parent_source = _parent_answers(parent)[answer]
    wrong = []
    for how, child_source in _child_answers(child).items():
        sources = {**_sol(), parent: parent_source, child: child_source}
        got, marks = states(sources, (parent, child)), grading(sources, (parent, child))
        # The parent's own check fails, and grading takes points from the parent.
        assert got[parent].status == FAIL and marks[parent] < 1, (how, got[parent], marks)
        state = got[child]
        if state.status == FAIL and marks[child] == 1:
            wrong.append((how, "FAIL where grading gives full marks", state.message))
        if state.status == DEPENDS and state.parent != parent:
            wrong.append((how, f"DEPENDS on {state.parent!r}, not on the failing {parent!r}", state.message))
        if state.status == FAIL:
            wrong.append((how, "FAIL over a failing parent, which this check cannot tell apart", state.message))
        if how == "solution" or how.startswith("variant"):
            # Written right: grading gives full marks, and the check passes or depends, never fails.
            assert marks[child] == 1, (how, marks)
            if state.status not in (PASS, DEPENDS):
                wrong.append((how, f"{state.status} for a right class", state.message))
    assert not wrong


def test_the_cases_hold_every_catalogued_parent_mistake_and_the_scheduler_built_once():
    held = {(p, a) for p, a, _ in CASES}
    assert {(m.exercise, m.key) for m in mistakes.CATALOGUE if m.exercise in PARENTS} <= held
    assert ("base_sched_cb", "scheduler built once") in held
    assert {c for _, _, c in CASES} == {e for e, parents in LESSON.builds_on.items() if parents}


def test_the_scheduler_built_once_fails_base_sched_cb_and_its_children_depend_on_it():
    """The issue's notebook: grading gives BatchSchedCB and EpochSchedCB full marks over the course's BaseSchedCB."""
    sources = {**_sol(), "base_sched_cb": _once(_sol()["base_sched_cb"])}
    got = states(sources, LESSON.classes)
    assert grading(sources, ("base_sched_cb", "batch_sched_cb", "epoch_sched_cb")) == {
        "base_sched_cb": 0.5, "batch_sched_cb": 1.0, "epoch_sched_cb": 1.0}
    assert {e: o.status for e, o in got.items() if o.status != PASS} == {
        "base_sched_cb": FAIL, "batch_sched_cb": DEPENDS, "epoch_sched_cb": DEPENDS}
    assert got["batch_sched_cb"] == Outcome(
        "batch_sched_cb", DEPENDS,
        "BatchSchedCB builds on BaseSchedCB, which fails its own check, so this check cannot tell BatchSchedCB's "
        "own code apart from it: fix BaseSchedCB first, then check BatchSchedCB again. Grading judges "
        "BatchSchedCB over the course's BaseSchedCB, so a mistake in BaseSchedCB costs points in BaseSchedCB only.",
        "base_sched_cb")


def test_a_child_that_looks_like_its_own_mistake_over_a_failing_parent_depends():
    """A right Momentum that steps through SGD.opt_step inherits SGD's forgotten lr: its numbers are
    those of Momentum's own catalogued mistakes, yet grading gives it full marks over the course's SGD."""
    sources = {**mistakes.variant_sources(mistakes.BY_KEY["sgd_forgot_lr"], _sol()),
               "momentum": CORRECT_VARIANTS["unusual"]["momentum"]}
    assert "super().opt_step" in sources["momentum"]
    got = states(sources, ("sgd", "momentum"))
    assert grading(sources, ("momentum",)) == {"momentum": 1.0}
    assert (got["momentum"].status, got["momentum"].parent) == (DEPENDS, "sgd")
    assert "The difference looks like: un-dampened (PyTorch-style) momentum." in got["momentum"].message


def test_the_in_notebook_check_shows_depends_as_a_warning_and_lets_run_all_go_on(capsys):
    classes = reference.solution_classes({**_sol(), "base_sched_cb": _once(_sol()["base_sched_cb"])})
    checks.check("batch_sched_cb", classes["BatchSchedCB"])  # does not raise CheckFailed
    assert capsys.readouterr().out.startswith("⚠ BatchSchedCB builds on BaseSchedCB, which fails its own check")
    with pytest.raises(checks.CheckFailed):
        checks.check("base_sched_cb", classes["BaseSchedCB"])


# --- The self-check's judging of the executed notebook (no kernel: executed notebooks made here)

def _executed(errors: dict, reported: dict | None = None) -> dict:
    """The check notebook of the released lesson, as a kernel would leave it: `errors`, grade_id ->
    'Name: value' on that cell; the report cell prints `reported` (exercise -> Outcome)."""
    import json
    from dataclasses import asdict
    nb = selfcheck.check_notebook(nbformat.read(RELEASED, as_version=4), nbformat.read(RELEASED, as_version=4))
    for cell in nb.cells:
        if grade_id(cell) in errors:
            ename, evalue = errors[grade_id(cell)].split(": ", 1)
            cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])]
    line = checks.RESULTS_MARK + json.dumps({e: asdict(o) for e, o in (reported or {}).items()})
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]
    return nb


def _run(nb) -> RunResult:
    return RunResult(notebook=nb, status="ok", message="")


def test_a_child_whose_cell_fails_because_its_parent_s_cell_failed_depends_on_it():
    """BaseSchedCB's cell raised, so BatchSchedCB's class statement cannot find it; grading leaves the
    failed cell out of the retest and gives BatchSchedCB full marks over the course's BaseSchedCB."""
    passing = {e: Outcome(e, PASS, "") for e in ("sgd", "momentum", "rmsprop", "adam", "has_learn_cb", "recorder_cb")}
    nb = _executed({"base_sched_cb": "SyntaxError: invalid syntax (1 line)",
                    "check_base_sched_cb": "NameError: name 'BaseSchedCB' is not defined",
                    "batch_sched_cb": "NameError: name 'BaseSchedCB' is not defined",
                    "check_batch_sched_cb": "NameError: name 'BatchSchedCB' is not defined",
                    "epoch_sched_cb": "NameError: name 'BaseSchedCB' is not defined",
                    "check_epoch_sched_cb": "NameError: name 'EpochSchedCB' is not defined"}, passing)
    got = selfcheck.judged(nb, _run(nb))
    assert {e: (o.status, o.parent) for e, o in got.items() if o.status != PASS} == {
        "base_sched_cb": (FAIL, ""), "batch_sched_cb": (DEPENDS, "base_sched_cb"),
        "epoch_sched_cb": (DEPENDS, "base_sched_cb")}
    assert got["base_sched_cb"].message == ("BaseSchedCB: your BaseSchedCB cell raised SyntaxError: invalid "
                                            "syntax (1 line)")
    assert got["batch_sched_cb"].message.startswith(
        "BatchSchedCB: your BatchSchedCB cell raised NameError: name 'BaseSchedCB' is not defined. "
        "BatchSchedCB builds on BaseSchedCB, which fails its own check")
    # Grading: no data in the first run, full marks in the retest over the course's BaseSchedCB.
    assert isolation.to_retest({"test_base_sched_cb": 0.0, "test_batch_sched_cb": 0.0}) == ["test_batch_sched_cb"]
    assert _score(_sol(), "test_batch_sched_cb") == 1.0


def test_a_failed_setup_cell_is_one_environment_message_and_no_exercise_verdict():
    error = f"RuntimeError: {TORCHVISION}"
    nb = _executed({"setup": error, **{e: "NameError: name 'Callback' is not defined" for e in LESSON.classes},
                    **{f"check_{e}": "NameError: name 'check' is not defined" for e in LESSON.classes}})
    got = selfcheck.judged(nb, _run(nb))
    assert isinstance(got, str)
    assert got.startswith(f"The lesson's setup cell failed, so no exercise was checked: {error}. torchvision "
                          "does not match the installed torch")
    assert "reinstall it as the kit's README says" in got and "NameError" not in got
    lines, status = selfcheck.report(selfcheck.SelfCheck({}, {"written_wd_vs_l2": False}, environment=got))
    assert (lines, status) == ([got], 2)


def test_the_report_says_depends_and_counts_only_passes():
    outcomes = {e: Outcome(e, PASS, f"{c}: all pass.") for e, c in LESSON.classes.items()}
    outcomes["base_sched_cb"] = Outcome("base_sched_cb", FAIL, "BaseSchedCB: differs.")
    outcomes["batch_sched_cb"] = Outcome("batch_sched_cb", DEPENDS, "BatchSchedCB builds on ...", "base_sched_cb")
    lines, status = selfcheck.report(selfcheck.SelfCheck(outcomes, {}))
    assert status == 1
    assert f"DEPENDS  {'batch_sched_cb':<15} BatchSchedCB builds on ..." in lines
    assert f"FAIL  {'base_sched_cb':<15} BaseSchedCB: differs." in lines
    assert lines[-2:] == [selfcheck.DEPENDS_LEGEND, f"{len(LESSON.classes) - 2} of {len(LESSON.classes)} "
                                                    "exercises pass their visible checks."]


# --- In the course repository: the course's cells come from solutions/, never from the file under check

def _course(tmp_path) -> Path:
    """A copy of this course folder's nbgrader layout: its config, solutions and release."""
    root = tmp_path / "course"
    for rel in ("nbgrader_config.py", SOLUTIONS.relative_to(paths.REPO_ROOT), RELEASED.relative_to(paths.REPO_ROOT)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths.REPO_ROOT / rel, root / rel)
    return root


def _filled_in_place(root: Path, answers: dict) -> Path:
    """The course's released lesson filled in place, with a helper cell before Momentum."""
    path = root / RELEASED.relative_to(paths.REPO_ROOT)
    lesson = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(lesson.cells) if grade_id(c) == "momentum")
    nbformat.write(nbformat.from_dict(notebook_with(lesson, answers, extra_cells=[(at, HELPER)])), path)
    return path


def _sources(nb) -> list:
    return [c.source for c in nb.cells]


def test_the_course_s_cells_cleared_from_solutions_are_those_of_the_release():
    """What the self-check runs for a notebook is the same whether the course's cells come from the
    released lesson (the kit) or from the solutions notebook with its solutions cleared (the course)."""
    lesson = nbformat.read(RELEASED, as_version=4)
    filled = nbformat.from_dict(notebook_with(lesson, {**_sol(), "momentum": MOMENTUM_WITH_HELPER},
                                              extra_cells=[(5, HELPER)]))
    from_release = selfcheck.check_notebook(filled, lesson)
    from_solutions = selfcheck.check_notebook(filled, canonical_notebook(nbformat.read(SOLUTIONS, as_version=4)))
    assert _sources(from_solutions) == _sources(from_release) and HELPER in _sources(from_release)


def test_in_the_course_the_file_under_check_is_never_the_lesson_it_is_compared_with(tmp_path, monkeypatch):
    root = _course(tmp_path)
    path = _filled_in_place(root, {**_sol(), "momentum": MOMENTUM_WITH_HELPER})
    monkeypatch.chdir(root)
    compared = selfcheck.comparison_lesson(path)
    assert _sources(compared) == _sources(canonical_notebook(nbformat.read(root / SOLUTIONS.relative_to(
        paths.REPO_ROOT), as_version=4)))
    assert HELPER in _sources(selfcheck.check_notebook(nbformat.read(path, as_version=4), compared))


def _cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **(env or {})}
    env.pop("AUTOGRADE_LESSON", None)
    return subprocess.run([sys.executable, "-m", "autograde.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_autograde_check_in_the_course_of_a_lesson_filled_in_place_agrees_with_grading(tmp_path):
    """End to end, the issue's two notebooks in one: BaseSchedCB builds its scheduler once, and Momentum
    uses a helper cell, in the course's own lessons/ file. Grading: BaseSchedCB loses points, BatchSchedCB
    and EpochSchedCB keep theirs over the course's BaseSchedCB, Momentum keeps its (the helper cell)."""
    answers = {**_sol(), "momentum": MOMENTUM_WITH_HELPER, "base_sched_cb": _once(_sol()["base_sched_cb"])}
    root = _course(tmp_path)
    _filled_in_place(root, answers)
    done = _cli("check", str(RELEASED.relative_to(paths.REPO_ROOT)), cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    marks = {line.split()[1]: line.split()[0] for line in done.stdout.splitlines()
             if line.startswith(("PASS", "FAIL", "DEPENDS"))}
    assert marks == {**{e: "PASS" for e in LESSON.classes}, "base_sched_cb": "FAIL",
                     "batch_sched_cb": "DEPENDS", "epoch_sched_cb": "DEPENDS"}, done.stdout
    assert "NameError" not in done.stdout
    assert f"{len(LESSON.classes) - 3} of {len(LESSON.classes)} exercises pass their visible checks." in done.stdout
    graded = grading({**answers, "momentum": _sol()["momentum"]}, tuple(LESSON.classes))
    assert {e for e, s in graded.items() if s < 1} == {"base_sched_cb"}


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_autograde_check_with_a_torchvision_that_does_not_match_says_so_once(tmp_path):
    """The setup cell's `import torchvision...` raises what a torchvision built for another torch raises."""
    fake = tmp_path / "site" / "torchvision"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise RuntimeError({TORCHVISION!r})\n")
    work = tmp_path / "work" / "accel_sgd.ipynb"
    work.parent.mkdir()
    nbformat.write(nbformat.from_dict(notebook_with(nbformat.read(RELEASED, as_version=4), _sol())), work)
    done = _cli("check", str(work), cwd=paths.REPO_ROOT, env={"PYTHONPATH": str(fake.parent)})
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"The lesson's setup cell failed, so no exercise was checked: RuntimeError: {TORCHVISION}.")
    assert "reinstall it as the kit's README says" in line
