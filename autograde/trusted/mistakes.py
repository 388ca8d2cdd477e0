"""Catalogued mistakes: small edits of the solution versions, and the lesson with one mistake made.

Each lesson's catalogue is data in its trusted half (trusted/lessons/<name>/mistakes.py). A
variant is the whole lesson's solution with one mistake's edits applied to its exercise's cell;
classes that build on that exercise (the lesson registry's `builds_on`) inherit the mistake.
`CATALOGUE` and `BY_KEY` are the current lesson's.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from autograde.trusted import solution as reference


@dataclass(frozen=True)
class Mistake:
    key: str
    exercise: str
    name: str   # what the student did, in a few words
    hint: str   # what to change, and why
    edits: tuple  # (old text, new text) pairs applied to the exercise's solution source


def catalogue() -> tuple:
    """The current lesson's mistakes, in the catalogue's order."""
    from autograde.trusted import lessons
    return tuple(lessons.current().MISTAKES)


def by_key() -> dict:
    return {m.key: m for m in catalogue()}


def __getattr__(name: str):
    if name == "CATALOGUE":
        return catalogue()
    if name == "BY_KEY":
        return by_key()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def apply_edits(source: str, mistake: Mistake) -> str:
    for old, new in mistake.edits:
        if old not in source:
            raise LookupError(f"mistake {mistake.key}: {old!r} is not in the {mistake.exercise} solution")
        source = source.replace(old, new)
    return source


def variant_sources(mistake: Mistake, sources: dict) -> dict:
    return {e: apply_edits(src, mistake) if e == mistake.exercise else src for e, src in sources.items()}


def variant_classes(key: str) -> dict:
    """Class name -> class, for the whole lesson with this one mistake made (subclasses inherit it)."""
    return _variant_classes(key, reference.sources_key())


@lru_cache(maxsize=None)
def _variant_classes(key: str, solutions: str) -> dict:  # solutions: whose (reference.sources_key)
    return reference.solution_classes(variant_sources(by_key()[key], reference.solution_sources()))


def affecting(exercise: str, class_names=()) -> list:
    """The mistakes a test of this exercise can name: its own only. Tests run an exercise's class
    over the solution's versions of the classes it builds on when those lost points (isolation.py),
    so a base class's mistake is charged in the base class's exercise alone."""
    return [m for m in catalogue() if m.exercise == exercise]


def shown_for(exercise: str) -> list:
    """The mistakes a visible check of this exercise may show: its own and those of every exercise
    it builds on (the registry's `builds_on`), which its class inherits."""
    from autograde.visible import lesson
    involved = {exercise, *lesson.for_exercise(exercise).ancestors(exercise)}
    return [m for m in catalogue() if m.exercise in involved]
