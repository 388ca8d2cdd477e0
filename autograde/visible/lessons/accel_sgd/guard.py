"""Drivers never crash on student code: an exception becomes data, the student's error message."""
from __future__ import annotations

from functools import wraps


def guarded(fn, *args, **kwargs):
    """Run fn; an exception becomes {"error": "Type: message"} (cut to 500 characters)."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure of student code is a result
        return {"error": f"{type(e).__name__}: {e}"[:500]}


def guard(fn):
    """fn, guarded (see guarded)."""
    @wraps(fn)
    def run(*args, **kwargs):
        return guarded(fn, *args, **kwargs)
    return run
