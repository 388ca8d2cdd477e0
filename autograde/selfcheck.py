"""`autograde check`: a student's quick self-check — the visible checks, in seconds, with grading's rules.

The notebook is rebuilt the way grading rebuilds it (notebook.prepare): the course's cells come from
the lesson shipped inside this package (read-only), never from the file the student edits; from the
student come only the answers (by grade_id) and the code cells they added, in their place. So
edited, reordered or deleted course cells change nothing, and an added helper cell is kept. In the
course repository, which ships no packed lesson, the course's cells come from its solutions notebook
with the solutions cleared, as grading takes them: never from the file under check, which may be the
release folder's own copy filled in place.

Then the setup cell, the answers, the added cells and the visible check cells run in a kernel,
skipping the lesson's data loading and training runs, and the checks' verdicts come back as data:
per exercise PASS, FAIL or DEPENDS (a class it builds on fails its own check; visible/checks.py).
When the setup cell itself fails, the Python environment is broken, not the answers: the self-check
says that once, with the cell's error, and judges no exercise.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.running.notebook import (canonical_notebook, grade_id, is_added, nbgrader_meta, prepare,
                                        read_submission)
from autograde.running.sandbox import Limits, RunResult, run_notebook
from autograde.visible.checks import DEPENDS, FAIL, PASS, RESULTS_MARK, Outcome
from autograde.visible.wording import depends_on, raised

# The student kit ships the released lesson in autograde/lesson/ (kit.py); in the course repository
# it is lessons/<name>/.
PACKAGED_DIR = Path(__file__).with_name("lesson")
SETUP = "setup"  # the grade_id of every lesson's setup cell: imports only, no student code

SETUP_FAILED = ("The lesson's setup cell failed, so no exercise was checked: {error}.{why} That cell only "
                "imports the lesson's libraries, so this is the Python environment, not your answers: "
                "reinstall it as the kit's README says under \"Set up\" (PyTorch and torchvision from its "
                "one line), then run `autograde check` again.")
TORCH_PAIR = " torchvision does not match the installed torch: they must come from the same install line."
NOT_RUN = ("The self-check could not run your notebook, so no exercise was checked: {message} Reinstall "
           "the lesson's environment as the kit's README says (\"Set up\") and run `autograde check` again.")
IS_THE_LESSON = ("{path} is the course's own copy of the lesson, the one a check compares with: check a "
                 "copy (`autograde check --fresh-copy work` makes one)")
MARKS = {PASS: "PASS", FAIL: "FAIL", DEPENDS: "DEPENDS"}
DEPENDS_LEGEND = ("An exercise that DEPENDS builds on a class that fails its own check: grading judges it over "
                  "the course's version of that class, so fix that class first, then check again.")


def lesson_name() -> str:
    return f"{lessons.current_name()}.ipynb"
REPORT_CELL = "from autograde.visible import print_results\nprint_results()"


@dataclass(frozen=True)
class SelfCheck:
    """The visible checks' outcomes per exercise, and which written answers are filled in.
    `environment`: why no exercise was judged (the setup cell failed), else empty."""
    outcomes: dict  # exercise -> visible.Outcome, in lesson order
    written: dict  # grade_id of a written answer -> filled in (bool); graded by hand
    environment: str = ""

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes.values())

    @property
    def depending(self) -> int:
        return sum(o.status == DEPENDS for o in self.outcomes.values())


def released_lesson() -> Path:
    """The untouched lesson this installation was released with: packed in the kit, else in the release
    folder of the course this command runs in (nbgrader_config.py), else in the repository's lessons/."""
    name = lessons.current_name()
    packaged = PACKAGED_DIR / lesson_name()
    candidates = [packaged]
    course = _course()
    if course is not None:
        candidates.append(course.release_dir / name / lesson_name())
    candidates.append(paths.REPO_ROOT / "lessons" / name / lesson_name())
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"the released lesson is missing ({packaged}): reinstall the student kit")


def _course():
    """The course folder this command runs in; None in the kit, which has no course.py, or outside one."""
    try:
        from autograde.course import find_course  # the course repository only
        return find_course()
    except (ImportError, SystemExit):
        return None


def _same_file(a: Path, b: Path | None) -> bool:
    try:
        return b is not None and os.path.samefile(a, b)
    except OSError:
        return False


def comparison_lesson(checked: Path | None = None) -> nbformat.NotebookNode:
    """The course's cells a notebook is rebuilt from, never those of `checked` (the file under check):
    the lesson packed in the kit; in the course repository its solutions notebook with the solution
    regions cleared (nbgrader's ClearSolutions, as `autograde release` and grading clear them); else a
    released lesson that is not the file under check."""
    name, packaged = lessons.current_name(), PACKAGED_DIR / lesson_name()
    course = _course()
    sources = [*([course.root / course.settings["source_directory"] / name / lesson_name()] if course else []),
               paths.REPO_ROOT / "solutions" / name / lesson_name()]
    releases = [*([course.release_dir / name / lesson_name()] if course else []),
                paths.REPO_ROOT / "lessons" / name / lesson_name()]
    candidates = [(packaged, False), *((p, True) for p in sources), *((p, False) for p in releases)]
    for path, is_source in candidates:
        if path.is_file() and not _same_file(path, checked):
            nb = nbformat.read(path, as_version=4)
            return canonical_notebook(nb) if is_source else nb
    if any(_same_file(path, checked) for path, _ in candidates):
        raise FileExistsError(IS_THE_LESSON.format(path=checked))
    raise FileNotFoundError(f"the released lesson is missing ({packaged}): reinstall the student kit")


def fresh_copy(folder: Path) -> Path:
    """A clean copy of the released lesson in folder (never overwrites a notebook)."""
    target = Path(folder) / lesson_name()
    if target.exists():
        raise FileExistsError(f"{target} already exists: choose another folder (your work is never overwritten)")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(released_lesson(), target)
    target.chmod(0o644)
    return target


def check_notebook(submission, lesson) -> nbformat.NotebookNode:
    """The slice of the rebuilt notebook the visible checks need, and a last cell that reports them."""
    nb = prepare(submission, lesson)
    exercises = lessons.current().classes
    keep = {SETUP, *exercises, *(f"check_{e}" for e in exercises)}
    nb.cells = [c for c in nb.cells if c.cell_type == "code" and (grade_id(c) in keep or is_added(c))]
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL, id="autograde-report"))
    return nb


def written_answers(nb, lesson) -> dict:
    """grade_id -> whether the student wrote something in that (hand-graded) markdown answer."""
    stubs = {grade_id(c): c.source.strip() for c in lesson.cells
             if c.cell_type == "markdown" and nbgrader_meta(c).get("solution")}
    given = {grade_id(c): c.source.strip() for c in nb.cells if grade_id(c) in stubs}
    return {gid: bool(given.get(gid)) and given[gid] != stub for gid, stub in stubs.items()}


def _error_of(cell) -> str | None:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    return f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else None


def _reported(executed) -> dict:
    """The outcomes the check cells recorded, read from the report cell's output (the last cell)."""
    for cell in executed["cells"][-1:]:
        for out in cell.get("outputs", []):
            for line in str(out.get("text", "")).splitlines():
                if line.startswith(RESULTS_MARK):
                    return {e: Outcome(**o) for e, o in json.loads(line[len(RESULTS_MARK):]).items()}
    return {}


def _unreported(exercise: str, executed, run, earlier: dict) -> Outcome:
    """Why a check recorded nothing: the answer cell failed, the check cell failed, or the run stopped.
    When a class it builds on did not pass its own check, that is where to look first (DEPENDS): its
    cell may have failed because that class is missing or broken."""
    lesson = lessons.current()
    cells = {grade_id(c): c for c in executed["cells"]}
    name = lesson.classes[exercise]
    answer_error = _error_of(cells.get(exercise, {}))
    check_error = _error_of(cells.get(f"check_{exercise}", {}))
    if answer_error:
        why = f"your {name} cell raised {answer_error}"
    elif check_error:
        why = f"the check could not run: {raised(check_error).removeprefix('your code raised ')}"
    else:
        why = run.message or "the check did not run"
    failing = [p for p in lesson.in_order(lesson.ancestors(exercise)) if p in earlier and not earlier[p].passed]
    if failing:
        parent = lesson.classes[failing[0]]
        return Outcome(exercise, DEPENDS, f"{name}: {why}. {depends_on(name, parent)}", failing[0])
    return Outcome(exercise, FAIL, f"{name}: {why}")


def environment_failure(executed, run: RunResult) -> str:
    """Why no exercise can be judged: the notebook could not run at all, or the setup cell failed
    (it imports the lesson's libraries only, so the environment is broken). Empty when neither."""
    if run.status == "error":
        return NOT_RUN.format(message=run.message)
    setup = next((c for c in executed["cells"] if grade_id(c) == SETUP), None)
    error = setup is not None and _error_of(setup)
    if not error:
        return ""
    return SETUP_FAILED.format(error=error.rstrip("."), why=TORCH_PAIR if "torchvision" in error else "")


def judged(executed, run: RunResult) -> dict | str:
    """The executed check notebook -> exercise -> Outcome in lesson order, or the environment's
    failure (a str) when no exercise can be judged."""
    broken = environment_failure(executed, run)
    if broken:
        return broken
    reported = _reported(executed)
    outcomes: dict = {}
    for e in lessons.current().classes:
        outcomes[e] = reported.get(e) or _unreported(e, executed, run, outcomes)
    return outcomes


def _import_dirs() -> list[Path]:
    """Where this Python finds its packages (site-packages, .pth additions): the kernel needs them too."""
    return sorted({Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and Path(p).resolve() != Path("/")})


def self_check(path: Path, lesson_path: Path | None = None,
               limits: Limits = Limits(wall_s=180, cell_s=60)) -> SelfCheck:  # noqa: B008 - only read
    """Run the visible checks on the notebook at path, against the course's own cells (comparison_lesson)."""
    submission = read_submission(Path(path).read_text(encoding="utf-8"))
    lesson = nbformat.read(lesson_path, as_version=4) if lesson_path else comparison_lesson(Path(path))
    nb = check_notebook(submission, lesson)
    with tempfile.TemporaryDirectory(prefix="autograde-check-") as work:
        # The student's own machine: nothing to hide, but the packages must stay visible even when
        # they live under /tmp, which the sandbox replaces with a private one.
        # The kernel imports the same miniai and autograde as this process, installed or not.
        python_path = os.pathsep.join([str(paths.REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        run = run_notebook(nb, Path(work), limits=limits, env={"PYTHONPATH": python_path},
                           expose=[paths.REPO_ROOT, Path(sys.prefix), *_import_dirs()])
    written = written_answers(prepare(submission, lesson), lesson)
    outcomes = judged(run.notebook, run)
    if isinstance(outcomes, str):
        return SelfCheck({}, written, environment=outcomes)
    return SelfCheck(outcomes, written)


def report(result: SelfCheck) -> tuple[list[str], int]:
    """What `autograde check` prints, and its exit status: 0 when every exercise passes, 1 when one
    fails or depends on a class that fails, 2 when the environment kept every exercise from running."""
    if result.environment:
        return [result.environment], 2
    lines = [f"{MARKS[o.status]}  {e:<15} {'' if o.passed else o.message}" for e, o in result.outcomes.items()]
    n = len(result.outcomes)
    if result.depending:
        lines.append(DEPENDS_LEGEND)
    lines.append(f"{result.passed} of {n} exercises pass their visible checks.")
    for gid, filled in result.written.items():
        lines.append(f"{'filled' if filled else 'EMPTY ':<6}  {gid:<15} written answer, graded by hand")
    empty = [g for g, f in result.written.items() if not f]
    if empty:
        lines.append(f"{len(empty)} written answer(s) still empty.")
    return lines, 0 if result.passed == n else 1
