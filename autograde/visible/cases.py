"""The current lesson's facts under their old names: `cases.TESTS`, `cases.EXERCISES`, `cases.collect`.

The facts themselves live in the lesson's registry (visible/lesson.py, visible/lessons/<name>/);
this module only forwards to the lesson chosen for this process, read when asked (not at import),
so it names no lesson. Any other name (a lesson's driver or constant, e.g. `cases.short_run`) is
looked up in the current lesson's package.
"""
from __future__ import annotations

import importlib

from autograde.visible import lesson as _lesson


def parents(test_id: str) -> tuple:
    return _lesson.current().parents(test_id)


def exercise_of(class_name: str) -> str:
    return _lesson.current().exercise_of(class_name)


def collect(test_id: str, *classes) -> dict:
    """The data one test cell produces from the classes it is given (student's or solution's)."""
    return _lesson.for_test(test_id).collect(test_id, *classes)


def public_data(exercise: str, cls) -> dict:
    return _lesson.for_exercise(exercise).public_data(exercise, cls)


def __getattr__(name: str):
    current = _lesson.current()
    if name in ("TESTS", "EXERCISES", "BUILDS_ON"):
        return getattr(current, name)
    package = importlib.import_module(current.package)
    try:
        return getattr(package, name)
    except AttributeError:
        raise AttributeError(f"neither autograde.visible.cases nor lesson {current.name} has {name!r}") from None
