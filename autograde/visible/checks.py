"""The visible checks students run in the lesson: public inputs, expected results fixed at release.

`autograde release` writes expected.json from the solution versions and the catalogued
mistakes, the mistakes of each exercise's parent classes included, so a check can name a mistake
and say which class's method it comes from. Nothing here reads the solutions.

Each check has one of three states, with grading's meaning: "pass" (the public checks pass; hidden
inputs may still find more), "fail" (this exercise's own code differs: grading takes points from it
too) and "depends" (a class it builds on fails its own check). Grading judges an exercise over the
course's versions of the classes it builds on when those lost points (trusted/isolation.py), and the
kit holds no solutions, so a check cannot judge such a class apart from its parent: it says so,
names the parent to fix first, and never says "fail" for what may be the parent's mistake.

A failing check raises CheckFailed, whose traceback IPython hides: the student sees the message
only, in red, and "Run All" stops there (later cells would train with the broken class). A check
that depends on a failing parent prints a ⚠ line: Run All has already stopped at the parent's check.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from autograde.visible import lesson as lessons
from autograde.visible.compare import agrees
from autograde.visible.wording import depends_on, describe

RESULTS_MARK = "autograde-visible-results:"
PASS, FAIL, DEPENDS = "pass", "fail", "depends"


@dataclass(frozen=True)
class Outcome:
    """One exercise's visible check: status PASS, FAIL or DEPENDS (see the module's docstring);
    `parent`: with DEPENDS, the exercise whose class fails its own check."""
    exercise: str
    status: str
    message: str
    parent: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASS


class CheckFailed(AssertionError):
    """A visible check found a difference. IPython shows `_render_traceback_` instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m✗ {self}\x1b[0m"]


@lru_cache(maxsize=None)
def _expected_of(path: Path) -> dict:
    return json.loads(path.read_text())


def expected(exercise: str) -> dict:
    """This exercise's entry in its lesson's expected.json (written at release)."""
    return _expected_of(lessons.for_exercise(exercise).expected_path)[exercise]


_results: dict[str, Outcome] = {}


def _owner(cls, method: str):
    """The class in cls's MRO whose own code defines `method` (None when none does)."""
    return next((k for k in getattr(cls, "__mro__", ()) if method in vars(k)), None)


def _inherited(name: str, cls, parent, named: dict | None) -> str | None:
    """The data match the failing parent's mistake, in a method this class does not override."""
    if not named or not named.get("method") or named.get("cls") != parent.__name__:
        return None
    if _owner(cls, named["method"]) is not parent:
        return None
    return (f"{name}'s own code agrees, but the difference comes from {parent.__name__}.{named['method']}, "
            f"which {name} inherits ({named['name']}): fix {parent.__name__} first.")


def _failing_parent(exercise: str, cls):
    """The first class this one builds on (an earlier exercise) that fails its own check, or None."""
    lesson = lessons.for_exercise(exercise)
    exercise_of = {name: e for e, name in lesson.classes.items()}
    for base in getattr(cls, "__mro__", ())[1:]:
        parent = exercise_of.get(base.__name__)
        if parent and parent != exercise and parent in _expected_of(lesson.expected_path):
            if not agrees(lesson.public_data(parent, base), expected(parent)["expected"]):
                return base
    return None


def _depending(exercise: str, cls, parent, named: dict | None) -> Outcome:
    """A class over a parent that fails its own check: which parent to fix first, and what the check
    can still tell: the parent's mistake it inherits, or (Exercise.judged_alone) that its own code
    agrees where the lesson can judge it without the parent."""
    lesson = lessons.for_exercise(exercise)
    name = lesson.classes[exercise]
    judged_alone = lesson.exercise(exercise).judged_alone
    message = (_inherited(name, cls, parent, named)
               or (judged_alone and judged_alone(cls, parent, expected(exercise)["expected"]))
               or depends_on(name, parent.__name__, named["name"] if named else None))
    return Outcome(exercise, DEPENDS, message, lesson.exercise_of(parent.__name__))


def outcome(exercise: str, cls) -> Outcome:
    """This exercise's class on the public inputs: PASS, FAIL, or DEPENDS on a failing parent."""
    lesson = lessons.for_exercise(exercise)
    want = expected(exercise)
    name = lesson.classes[exercise]
    got = lesson.public_data(exercise, cls)
    if agrees(got, want["expected"]):
        n = len(want["expected"]["cases"]) if "cases" in want["expected"] else len(want["expected"])
        return Outcome(exercise, PASS, f"{name}: all {n} public checks pass.")
    named = next((w for w in want["mistakes"] if agrees(got, w["data"])), None)
    parent = _failing_parent(exercise, cls)
    if parent is not None:
        # Even data that look like this class's own catalogued mistake may come from the parent (a
        # subclass that calls the parent's method inherits the parent's slip): grading decides over
        # the course's parent, which this check does not have.
        return _depending(exercise, cls, parent, named)
    hint = f"Looks like: {named['name']}. {named['hint']} " if named else ""
    what = (lesson.describe or describe)(got, want["expected"])
    what = what[:1].upper() + what[1:] if hint else what
    return Outcome(exercise, FAIL, f"{name}: {hint}{what}.")


def check(exercise: str, *classes) -> None:
    """Print a ✓ line (PASS) or a ⚠ line (DEPENDS), or raise CheckFailed with what differs (shown
    without a traceback)."""
    result = outcome(exercise, classes[0])
    _results[exercise] = result
    if result.status == FAIL:
        raise CheckFailed(result.message)
    print(("✓ " if result.status == PASS else "⚠ ") + result.message)


def print_results() -> None:
    """One line for `autograde check`, which runs the check cells in a kernel and reads it back."""
    print(RESULTS_MARK + json.dumps({e: asdict(o) for e, o in _results.items()}))
