"""The visible checks students run in the lesson: public inputs, expected results fixed at release.

`autograde release` writes visible_expected.json from the solution versions (and the catalogued
mistakes, so a check can name a mistake too). Nothing here reads the solutions.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from . import cases
from .compare import agrees, case_differences, difference

EXPECTED_PATH = Path(__file__).with_name("visible_expected.json")


@lru_cache(maxsize=1)
def expected() -> dict:
    return json.loads(EXPECTED_PATH.read_text())


def outcome(exercise: str, cls) -> tuple[bool, str]:
    """(passed, message) for one exercise on the public inputs."""
    want = expected()[exercise]
    got = cases.public_data(exercise, cls)
    if agrees(got, want["expected"]):
        n = len(want["expected"]["cases"]) if "cases" in want["expected"] else len(want["expected"])
        return True, f"{exercise}: all {n} public checks pass."
    named = next((w for w in want["mistakes"] if agrees(got, w["data"])), None)
    hint = f"Looks like: {named['name']}. {named['hint']} " if named else ""
    if isinstance(got, dict) and "error" in got:
        what = f"your code raised {got['error']}"
    elif "cases" in want["expected"]:
        what = next(f"in case '{k}': {v}" for k, v in case_differences(got, want["expected"]).items() if v)
    else:
        what = difference(got, want["expected"])
    return False, f"{exercise}: {hint}{what}."


def check(exercise: str, *classes) -> None:
    """Raise AssertionError with a helpful message unless the class passes the public checks."""
    passed, message = outcome(exercise, classes[0])
    if not passed:
        raise AssertionError(message)
    print("✓ " + message)
