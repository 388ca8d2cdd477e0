"""`autograde check`: a student's quick self-check — the visible checks, in seconds, with grading's rules.

The notebook is rebuilt the way grading rebuilds it (notebook.prepare): the course's cells come from
the released lesson shipped inside this package (read-only), never from the file the student edits;
from the student come only the answers (by grade_id) and the code cells they added, in their place.
So edited, reordered or deleted course cells change nothing, and an added helper cell is kept.
Then the setup cell, the answers, the added cells and the visible check cells run in a kernel,
skipping the lesson's data loading and training runs, and the checks' verdicts come back as data.
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
from autograde.running.notebook import grade_id, is_added, nbgrader_meta, prepare, read_submission
from autograde.running.sandbox import Limits, run_notebook
from autograde.visible.checks import RESULTS_MARK, Outcome
from autograde.visible.wording import raised

# The student kit ships the released lesson in autograde/lesson/ (kit.py); in the course repository
# it is lessons/<name>/.
PACKAGED_DIR = Path(__file__).with_name("lesson")


def lesson_name() -> str:
    return f"{lessons.current_name()}.ipynb"
REPORT_CELL = "from autograde.visible import print_results\nprint_results()"


@dataclass(frozen=True)
class SelfCheck:
    """The visible checks' outcomes per exercise, and which written answers are filled in."""
    outcomes: dict  # exercise -> visible.Outcome, in lesson order
    written: dict  # grade_id of a written answer -> filled in (bool); graded by hand

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes.values())


def released_lesson() -> Path:
    """The untouched lesson this installation was released with: packed in the kit, else in the release
    folder of the course this command runs in (nbgrader_config.py), else in the repository's lessons/."""
    name = lessons.current_name()
    packaged = PACKAGED_DIR / lesson_name()
    candidates = [packaged]
    try:
        from autograde.course import find_course  # the course repository only: the kit has no course.py
        candidates.append(find_course().release_dir / name / lesson_name())
    except (ImportError, SystemExit):
        pass
    candidates.append(paths.REPO_ROOT / "lessons" / name / lesson_name())
    for path in candidates:
        if path.is_file():
            return path
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
    keep = {"setup", *exercises, *(f"check_{e}" for e in exercises)}
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


def _unreported(exercise: str, executed, run) -> Outcome:
    """Why a check recorded nothing: the answer cell failed, the check cell failed, or the run stopped."""
    cells = {grade_id(c): c for c in executed["cells"]}
    name = lessons.current().classes[exercise]
    answer_error = _error_of(cells.get(exercise, {}))
    check_error = _error_of(cells.get(f"check_{exercise}", {}))
    if answer_error:
        why = f"your {name} cell raised {answer_error}"
    elif check_error:
        why = f"the check could not run: {raised(check_error).removeprefix('your code raised ')}"
    else:
        why = run.message or "the check did not run"
    return Outcome(exercise, "fail", f"{name}: {why}")


def _import_dirs() -> list[Path]:
    """Where this Python finds its packages (site-packages, .pth additions): the kernel needs them too."""
    return sorted({Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and Path(p).resolve() != Path("/")})


def self_check(path: Path, lesson_path: Path | None = None,
               limits: Limits = Limits(wall_s=180, cell_s=60)) -> SelfCheck:
    """Run the visible checks on the notebook at path, against the released lesson."""
    submission = read_submission(Path(path).read_text(encoding="utf-8"))
    lesson = nbformat.read(lesson_path or released_lesson(), as_version=4)
    nb = check_notebook(submission, lesson)
    with tempfile.TemporaryDirectory(prefix="autograde-check-") as work:
        # The student's own machine: nothing to hide, but the packages must stay visible even when
        # they live under /tmp, which the sandbox replaces with a private one.
        # The kernel imports the same miniai and autograde as this process, installed or not.
        python_path = os.pathsep.join([str(paths.REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        run = run_notebook(nb, Path(work), limits=limits, env={"PYTHONPATH": python_path},
                           expose=[paths.REPO_ROOT, Path(sys.prefix), *_import_dirs()])
    executed = run.notebook
    reported = _reported(executed)
    outcomes = {e: reported.get(e) or _unreported(e, executed, run) for e in lessons.current().classes}
    return SelfCheck(outcomes, written_answers(prepare(submission, lesson), lesson))
