"""Notebooks handed in by more than one student: the same file, or the same answers.

A hint for the instructor, not a verdict: they decide what it means. A hard link or a copy is the
same file; a copy saved again in Jupyter keeps the answers but not the bytes, so the answers are
compared too, as the grader takes them (running/notebook.prepare: the first cell of each answer's
grade_id). An answer left as the released stub (or emptied) is no answer: untouched lessons are
alike by design, so a notebook with no answer filled in is in no group.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nbformat

from autograde.running.notebook import answer_ids, cell_source, grade_id, read_submission


@dataclass(frozen=True)
class Group:
    """Students who handed in the same notebook file (same_file), or the same source in every answer cell."""
    students: tuple[str, ...]
    same_file: bool


def stubs(canonical) -> dict[str, str]:
    """grade_id -> the answer cell's released text (the canonical notebook's solutions are stubbed)."""
    nb = nbformat.from_dict(canonical)  # Course.canonical is plain data
    answers = answer_ids(nb)
    found: dict[str, str] = {}
    for cell in nb["cells"]:
        gid = grade_id(cell)
        if gid is not None and gid in answers and gid not in found:
            found[gid] = cell_source(cell)
    return found


def answers(text: str, released: dict[str, str]) -> tuple | None:
    """(grade_id, source, or None where left unfilled) for every answer cell, in a fixed order; None
    when the notebook cannot be read or fills in no answer."""
    try:
        nb = read_submission(text)
    except ValueError:
        return None
    taken: dict[str, str] = {}
    for cell in nb.cells:
        if not isinstance(cell, dict):
            continue
        gid = grade_id(cell)  # {} for malformed nbgrader metadata: not an answer
        if isinstance(gid, str) and gid in released and gid not in taken:
            taken[gid] = cell_source(cell)
    filled = tuple((gid, _filled(taken.get(gid), stub)) for gid, stub in sorted(released.items()))
    return filled if any(source is not None for _, source in filled) else None


def _filled(source: str | None, stub: str) -> str | None:
    if source is None or not source.strip() or source.strip() == stub.strip():
        return None
    return source


def groups(texts: list[tuple[str, str]], canonical) -> list[Group]:
    """Every group of two or more students (student_id, notebook text) with the same file, then with the
    same answers where that is not the very same group; each group's ids sorted, groups by first id."""
    released = stubs(canonical)
    by_file: dict[str, list[str]] = {}
    by_answers: dict[tuple, list[str]] = {}
    for sid, text in texts:
        filled = answers(text, released)
        if filled is None:
            continue
        by_file.setdefault(hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest(), []).append(sid)
        by_answers.setdefault(filled, []).append(sid)
    same_file = {tuple(sorted(s)) for s in by_file.values() if len(s) > 1}
    same_answers = {tuple(sorted(s)) for s in by_answers.values() if len(s) > 1} - same_file
    found = [Group(s, True) for s in same_file] + [Group(s, False) for s in same_answers]
    return sorted(found, key=lambda g: (g.students, not g.same_file))
