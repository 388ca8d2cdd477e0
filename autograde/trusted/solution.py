"""The solution versions, derived from the nbgrader source notebook (never a second copy).

The solutions notebook holds each exercise class whole in one cell whose nbgrader `grade_id` is
the exercise name. We take those cells' source, drop the solution markers (keeping the solution
lines) and execute them in a fresh namespace. The mistake catalogue edits the same text.
This module runs only in the trusted grader: the sandbox hides solutions/ from students' kernels.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

import nbformat

from autograde.paths import REPO_ROOT
from autograde.visible import lesson
from autograde.running.notebook import nbgrader_meta

SOLUTIONS_DIR = REPO_ROOT / "solutions"
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")

ENV = "AUTOGRADE_SOLUTIONS"  # a person's choice of notebook where the grader names none
# What the grader names for what runs now (`using`): a course's notebook, or its sources as data.
_notebook: ContextVar[Path | None] = ContextVar("autograde_solutions", default=None)
_sources: ContextVar[tuple[dict, str] | None] = ContextVar("autograde_solution_sources", default=None)


def _digest(sources: dict) -> str:
    text = json.dumps([lesson.current_name(), sources], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def using(notebook: Path | None = None, sources: dict | None = None) -> Iterator[None]:
    """Within this block the solutions are this notebook's, or these sources (a grading worker gets
    them as data and reads no notebook; their key, sources_key, is computed here, once)."""
    tokens = (_notebook.set(Path(notebook) if notebook else _notebook.get()),
              _sources.set((dict(sources), _digest(sources)) if sources else None))
    try:
        yield
    finally:
        _sources.reset(tokens[1])
        _notebook.reset(tokens[0])


def solutions_notebook() -> Path:
    """The source notebook: the one `using` names, else AUTOGRADE_SOLUTIONS (e.g. a course fork), else
    the repository's solutions/ for the current lesson."""
    if (named := _notebook.get()) is not None:
        return named
    name = lesson.current_name()
    return Path(os.environ.get(ENV) or SOLUTIONS_DIR / name / f"{name}.ipynb")


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


def solution_sources() -> dict:
    """Exercise name -> the solution cell's code, in the lesson's order."""
    if (given := _sources.get()) is not None:
        return dict(given[0])
    path = solutions_notebook()
    if not path.exists():
        raise FileNotFoundError(f"solutions notebook not found at {path} (is it the course's? {ENV} names "
                                f"another)")
    return dict(_sources_from(str(path), path.stat().st_mtime, lesson.current_name()))


def sources_key() -> str:
    """Which solutions are in effect: what the judge's in-process caches are keyed by, so a process
    grading two courses never mixes their solutions. Given sources carry their digest (`using`); a
    notebook is known by what its read is cached by (path, modification time, lesson)."""
    if (given := _sources.get()) is not None:
        return given[1]
    path = solutions_notebook()
    return f"{path}\0{path.stat().st_mtime if path.exists() else None}\0{lesson.current_name()}"


def build_namespace(sources: dict) -> dict:
    """Execute exercise sources in order (later classes subclass earlier ones) into a namespace."""
    ns = {"__name__": "autograde_solution"}
    exec(compile(lesson.current().exercise_imports, "<exercise imports>", "exec"), ns)
    for exercise, src in sources.items():
        exec(compile(src, f"<solution:{exercise}>", "exec"), ns)
    return ns


def solution_classes(sources: dict | None = None) -> dict:
    """Class name -> solution class."""
    ns = build_namespace(sources or solution_sources())
    return {name: ns[name] for name in lesson.current().classes.values()}
