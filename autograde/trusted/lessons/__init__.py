"""Each lesson's trusted half: its mistake catalogue (edits of the solution text) and its judges.

autograde/trusted/lessons/<name>/__init__.py defines MISTAKES (mistakes.Mistake records) and
JUDGES (judge name -> Judging: the schema its probe data must have and the function that
scores it). `judging(test_id)` finds a test's; the judge (judge.py) and the schema check (schema.py)
both read it here, so neither reaches into the other. A test in the lesson's visible registry names
its judge; nothing here is shipped to students or seen by their kernels.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from autograde.visible import lesson as lessons


@dataclass(frozen=True)
class Judging:
    """How one kind of test is judged: `schema(test)` checks its probe data (schema.py's builders),
    `verdict(test, data, want)` scores it against the solution versions' data."""
    schema: Callable
    verdict: Callable


def part(name: str):
    """The trusted half of the lesson `name` (a module with MISTAKES and JUDGES)."""
    return importlib.import_module(f"{__name__}.{name}")


def of_test(test_id: str):
    return part(lessons.for_test(test_id).name)


def current():
    return part(lessons.current_name())


def judging(test_id: str) -> Judging:
    """The judge a test names in its lesson's registry, from that lesson's JUDGES."""
    return of_test(test_id).JUDGES[lessons.for_test(test_id).tests_by_id[test_id].judge]
