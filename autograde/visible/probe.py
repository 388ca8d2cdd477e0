"""The hidden test cells' one call: run the checks' drivers on the student's classes, write data.

Inside the grader's sandbox (AUTOGRADE_PROBE_DIR set) this only records data: the verdict is
computed later by the trusted judge, out of the student's reach, so patching anything in the
kernel cannot forge a score. Outside the grader (an instructor running the solutions notebook, or
plain `nbgrader autograde`) it judges on the spot and raises AssertionError on a mismatch.
The test's driver comes from the lesson that defines this test id (visible/lesson.py).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from autograde.visible import lesson
from autograde.visible.atomic import write_atomic


def probe(test_id: str, *classes) -> None:
    data = lesson.for_test(test_id).collect(test_id, *classes)
    out = os.environ.get("AUTOGRADE_PROBE_DIR")
    if out:
        path = Path(out) / f"{test_id}.json"
        write_atomic(path, json.dumps(data))  # a kernel killed mid-write leaves no half file
        print(f"{test_id}: results recorded for grading.")
        return
    from autograde.trusted.judge import judge  # trusted context only: needs the solutions notebook
    verdict = judge(test_id, data)
    if verdict.score < 1:
        raise AssertionError(f"{test_id}: {verdict.message}")
    print(f"{test_id}: passed.")
