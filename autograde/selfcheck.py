"""`autograde check`: a student's quick self-check — only the visible checks, in seconds.

Runs the lesson's setup cell, the student's exercise answers (and any code cells they added) and
the visible check cells, skipping the lesson's data loading and training runs.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat

from . import reference
from .cases import EXERCISES
from .notebook import is_added, prepare, read_submission
from .sandbox import Limits, run_notebook

LESSON = reference.REPO_ROOT / "lessons" / reference.ASSIGNMENT / f"{reference.ASSIGNMENT}.ipynb"


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def check_notebook(submission, lesson) -> nbformat.NotebookNode:
    """The slice of the notebook the visible checks need."""
    nb = prepare(submission, lesson)
    keep = {"setup", *EXERCISES, *(f"check_{e}" for e in EXERCISES)}
    nb.cells = [c for c in nb.cells if c.cell_type == "code" and (_grade_id(c) in keep or is_added(c))]
    return nb


def self_check(path: Path, lesson_path: Path = LESSON, limits: Limits = Limits(wall_s=180, cell_s=60)) -> dict:
    """exercise -> (passed, message), in lesson order."""
    submission = read_submission(Path(path).read_text(encoding="utf-8"))
    lesson = nbformat.read(lesson_path, as_version=4) if lesson_path.exists() else submission
    nb = check_notebook(submission, lesson)
    with tempfile.TemporaryDirectory(prefix="autograde-check-") as work:
        # The student's own machine: nothing to hide, but the packages must stay visible even when
        # they live under /tmp, which the sandbox replaces with a private one.
        # The kernel imports the same miniai and autograde as this process, installed or not.
        python_path = os.pathsep.join([str(reference.REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        run = run_notebook(nb, Path(work), limits=limits, env={"PYTHONPATH": python_path},
                           expose=[reference.REPO_ROOT, Path(sys.prefix)])
    executed = run.notebook
    outcomes = {}
    for i, cell in enumerate(executed["cells"]):
        gid = _grade_id(cell) or ""
        if not gid.startswith("check_"):
            continue
        exercise = gid[len("check_"):]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            outcomes[exercise] = (False, f"{errors[0].get('ename')}: {errors[0].get('evalue')}")
        elif i in run.cell_errors:
            outcomes[exercise] = (False, run.cell_errors[i])
        elif cell.get("execution_count") is None:
            outcomes[exercise] = (False, run.message or "this check did not run")
        else:
            outcomes[exercise] = (True, "")
    return {e: outcomes.get(e, (False, "no visible check cell found for this exercise")) for e in EXERCISES}
