"""Each lesson's trusted half: its mistake catalogue (edits of the solution text) and its judges.

autograde/trusted/lessons/<name>/__init__.py defines MISTAKES (mistakes.Mistake records) and
JUDGES (judge name -> judge.Judging: the schema its probe data must have and the function that
scores it). A test in the lesson's visible registry names its judge; nothing here is shipped to
students or seen by their kernels.
"""
from __future__ import annotations

import importlib

from autograde.visible import lesson as lessons


def part(name: str):
    """The trusted half of the lesson `name` (a module with MISTAKES and JUDGES)."""
    return importlib.import_module(f"{__name__}.{name}")


def of_test(test_id: str):
    return part(lessons.for_test(test_id).name)


def current():
    return part(lessons.current_name())
