"""The solution versions, derived from the nbgrader source notebook (never a second copy).

The solutions notebook holds each exercise class whole in one cell whose nbgrader `grade_id` is
the exercise name. We take those cells' source, drop the solution markers (keeping the solution
lines) and execute them in a fresh namespace. The mistake catalogue edits the same text.
This module runs only in the trusted grader: the sandbox hides solutions/ from students' kernels.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import nbformat

from autograde.paths import REPO_ROOT
from autograde.visible import lesson
from autograde.running.notebook import nbgrader_meta

SOLUTIONS_DIR = REPO_ROOT / "solutions"
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")

def solutions_notebook() -> Path:
    """The source notebook; AUTOGRADE_SOLUTIONS points elsewhere (e.g. a course fork)."""
    name = lesson.current_name()
    return Path(os.environ.get("AUTOGRADE_SOLUTIONS", SOLUTIONS_DIR / name / f"{name}.ipynb"))


def strip_solution_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not _MARKER.match(line)) + "\n"


@lru_cache(maxsize=4)
def _sources_from(path: str, mtime: float, lesson_name: str) -> dict:
    exercises = lesson.load(lesson_name).classes
    nb = nbformat.read(path, as_version=4)
    found = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if cell.cell_type == "code" and meta.get("solution") and gid in exercises:
            found[gid] = strip_solution_markers(cell.source)
    missing = [e for e in exercises if e not in found]
    if missing:
        raise LookupError(f"{path}: no solution cell for {', '.join(missing)} (grade_id must be the exercise name)")
    return {e: found[e] for e in exercises}


_given_sources: dict | None = None


def set_sources(sources: dict | None) -> None:
    """Use these sources instead of reading the notebook (a grading worker gets them as data)."""
    global _given_sources
    _given_sources = dict(sources) if sources else None


def solution_sources() -> dict:
    """Exercise name -> the solution cell's code, in the lesson's order."""
    if _given_sources is not None:
        return dict(_given_sources)
    path = solutions_notebook()
    if not path.exists():
        raise FileNotFoundError(f"solutions notebook not found at {path} (set AUTOGRADE_SOLUTIONS)")
    return dict(_sources_from(str(path), path.stat().st_mtime, lesson.current_name()))


def build_namespace(sources: dict) -> dict:
    """Execute exercise sources in order (later classes subclass earlier ones) into a namespace."""
    ns = {"__name__": "autograde_solution"}
    exec(compile(lesson.current().prelude, "<prelude>", "exec"), ns)
    for exercise, src in sources.items():
        exec(compile(src, f"<solution:{exercise}>", "exec"), ns)
    return ns


def solution_classes(sources: dict | None = None) -> dict:
    """Class name -> solution class."""
    ns = build_namespace(sources or solution_sources())
    return {name: ns[name] for name in lesson.current().classes.values()}
