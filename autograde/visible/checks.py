"""The visible checks students run in the lesson: public inputs, expected results fixed at release.

`autograde release` writes expected.json from the solution versions and the catalogued
mistakes, the mistakes of each exercise's parent classes included, so a check can name a mistake
and say which class's method it comes from. Nothing here reads the solutions.

A failing check raises CheckFailed, whose traceback IPython hides: the student sees the message
only, in red, and "Run All" stops there (later cells would train with the broken class).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from autograde.visible import lesson as lessons
from autograde.visible.compare import agrees
from autograde.visible.wording import describe

RESULTS_MARK = "autograde-visible-results:"


@dataclass(frozen=True)
class Outcome:
    """One exercise's visible check. status: "pass"; "fail"; or "inherited" (the class's own code
    agrees, the difference comes from a method it inherits from an earlier exercise: grading judges
    it over the solution's parents, so it keeps its points there)."""
    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status != "fail"


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


def _inherited(exercise: str, cls, named: dict) -> Outcome | None:
    """The data match a parent exercise's mistake, in a method this class does not override."""
    if named.get("exercise", exercise) == exercise or not named.get("method"):
        return None
    owner = _owner(cls, named["method"])
    if owner is None or owner is cls or owner.__name__ != named.get("cls"):
        return None
    name, parent = lessons.for_exercise(exercise).classes[exercise], owner.__name__
    return Outcome(exercise, "inherited",
                   f"{name}'s own code agrees, but the difference comes from {parent}.{named['method']}, which "
                   f"{name} inherits ({named['name']}): fix {parent} first.")


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


def _over_failing_parent(exercise: str, cls, parent) -> Outcome | None:
    """The lesson may judge the class's own code without its failing parent (Exercise.judged_alone)."""
    judged_alone = lessons.for_exercise(exercise).exercise(exercise).judged_alone
    message = judged_alone and judged_alone(cls, parent, expected(exercise)["expected"])
    return Outcome(exercise, "inherited", message) if message else None


def outcome(exercise: str, cls) -> Outcome:
    """This exercise's class on the public inputs."""
    lesson = lessons.for_exercise(exercise)
    want = expected(exercise)
    name = lesson.classes[exercise]
    got = lesson.public_data(exercise, cls)
    if agrees(got, want["expected"]):
        n = len(want["expected"]["cases"]) if "cases" in want["expected"] else len(want["expected"])
        return Outcome(exercise, "pass", f"{name}: all {n} public checks pass.")
    named = next((w for w in want["mistakes"] if agrees(got, w["data"])), None)
    inherited = named and _inherited(exercise, cls, named)
    if inherited:
        return inherited
    parent = None if named else _failing_parent(exercise, cls)
    judged = parent and _over_failing_parent(exercise, cls, parent)
    if judged:
        return judged
    hint = f"Looks like: {named['name']}. {named['hint']} " if named else ""
    note = (f" {parent.__name__} fails its own check too, and {name} inherits from it: fix {parent.__name__} "
            f"first, the difference may come from there.") if parent else ""
    what = (lesson.describe or describe)(got, want["expected"])
    what = what[:1].upper() + what[1:] if hint else what
    return Outcome(exercise, "fail", f"{name}: {hint}{what}.{note}")


def check(exercise: str, *classes) -> None:
    """Print a ✓ line, or raise CheckFailed with what differs (shown without a traceback)."""
    result = outcome(exercise, classes[0])
    _results[exercise] = result
    if result.status == "fail":
        raise CheckFailed(result.message)
    print(("✓ " if result.status == "pass" else "⚠ ") + result.message)


def print_results() -> None:
    """One line for `autograde check`, which runs the check cells in a kernel and reads it back."""
    print(RESULTS_MARK + json.dumps({e: asdict(o) for e, o in _results.items()}))
