"""The EMA lesson's drivers: feed a fixed series to an average and record what it reports.

Pure Python, no data, well under a millisecond: the lesson is the registry's small second example
(tests/test_second_lesson.py), so it must cost nothing to grade.
"""
from __future__ import annotations

HIDDEN_SERIES = (3.0, -1.0, 4.0, 1.5, -5.0, 9.0, 2.6, 0.0)
PUBLIC_SERIES = (1.0, 2.0, -2.0)
BETA = 0.8


def averages(cls, series=HIDDEN_SERIES, beta=BETA) -> dict:
    """The average after each value; the student's exception becomes data, never a crash."""
    try:
        avg = cls(beta)
        return {"values": [float(avg.update(x)) for x in series]}
    except Exception as e:  # noqa: BLE001 - any failure of student code is a result
        return {"error": f"{type(e).__name__}: {e}"[:500]}


def public(cls) -> dict:
    return averages(cls, PUBLIC_SERIES)
