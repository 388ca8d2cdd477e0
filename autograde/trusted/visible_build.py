"""Helpers for `autograde release` writing visible/expected.json (instructor side; not in the kit).

Each mistake entry says which class and method it lives in, so a visible check can tell a student
that a difference comes from a method their class inherits. The file is rewritten only when the
numbers move beyond the checks' own tolerances: a fresh clone stays clean after `make demo`, even
where another CPU rounds the last bit differently.
"""
from __future__ import annotations

import re

from autograde.visible import lesson as lessons
from autograde.trusted import mistakes, solution as reference
from autograde.visible.compare import agrees

_DEF = re.compile(r"\bdef (\w+)\(")


def mistake_method(mistake) -> str | None:
    """The method of the solution cell that the mistake's first edit changes."""
    source = reference.solution_sources()[mistake.exercise]
    at = source.find(mistake.edits[0][0])
    if at < 0:
        return None
    end = source.find("\n", at)
    for line in reversed(source[:end if end >= 0 else None].splitlines()):
        found = _DEF.search(line)
        if found:
            return found.group(1)
    return None


def mistake_entry(mistake, data) -> dict:
    return {"key": mistake.key, "name": mistake.name, "hint": mistake.hint, "data": data,
            "exercise": mistake.exercise, "cls": lessons.current().classes[mistake.exercise],
            "method": mistake_method(mistake)}


def same_within_tolerance(old, new) -> bool:
    """Whether two visible_expected contents differ only below the checks' tolerances."""
    if not isinstance(old, dict) or set(old) != set(new):
        return False
    for exercise, entry in new.items():
        before = old[exercise]
        if not isinstance(before, dict) or not agrees(before.get("expected"), entry["expected"]) \
                or not agrees(entry["expected"], before.get("expected")):
            return False
        olds = before.get("mistakes") or []
        if len(olds) != len(entry["mistakes"]):
            return False
        for a, b in zip(olds, entry["mistakes"]):
            if {k: v for k, v in a.items() if k != "data"} != {k: v for k, v in b.items() if k != "data"} \
                    or not agrees(a.get("data"), b["data"]) or not agrees(b["data"], a.get("data")):
                return False
    return True


def shown_mistakes(exercise: str, cname: str, want) -> list[dict]:
    """The catalogued mistakes of this exercise and of those it builds on whose public data differ."""
    lesson = lessons.current()
    shown = []
    for m in mistakes.shown_for(exercise):
        data = lesson.public_data(exercise, mistakes.variant_classes(m.key)[cname])
        if not agrees(data, want):
            shown.append(mistake_entry(m, data))
    return shown
