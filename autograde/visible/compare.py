"""Comparing a submission's data with the expected data, and saying where they part.

Pure functions over plain data (lists, dicts, numbers), shared by the trusted judge and the
students' visible checks. Student data is untrusted: anything malformed is a difference, never a crash.
"""
from __future__ import annotations

import math

import numpy as np

# Small-tensor trajectories: loose enough for correct code written differently (in-place ops,
# lerp, addcdiv: a few float32 ulps), far tighter than any catalogued mistake.
TRAJ_RTOL, TRAJ_ATOL = 1e-4, 1e-6
# Recorded schedules and logged values.
VALUE_RTOL, VALUE_ATOL = 1e-6, 1e-9


def as_matrix(traj) -> np.ndarray | None:
    """A trajectory as a float matrix (steps × elements), or None when it is not one."""
    try:
        arr = np.asarray(traj, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return arr if arr.ndim == 2 else None


def traj_difference(got, want, rtol=TRAJ_RTOL, atol=TRAJ_ATOL) -> str | None:
    """None when the trajectories agree, else where they first part: step, element, values."""
    g, w = as_matrix(got), as_matrix(want)
    if w is None:
        raise ValueError("expected trajectory is malformed")
    if g is None or g.shape != w.shape:
        shape = "not a list of steps" if g is None else f"{g.shape[0]} steps × {g.shape[1]} values"
        return f"the parameters have the wrong shape: {shape}, expected {w.shape[0]} steps × {w.shape[1]} values"
    bad = ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    step = int(np.argmax(bad.any(axis=1)))
    row = np.where(bad[step], np.abs(np.nan_to_num(g[step] - w[step], nan=np.inf)), -1.0)
    elem = int(np.argmax(row))
    gv, wv = float(g[step, elem]), float(w[step, elem])
    return (f"after step {step + 1}, parameter element {elem} is {gv:.6g} but should be {wv:.6g} "
            f"(off by {abs(gv - wv):.3g})")


def same(got, want, rtol=VALUE_RTOL, atol=VALUE_ATOL) -> bool:
    return difference(got, want, rtol, atol) is None


def difference(got, want, rtol=VALUE_RTOL, atol=VALUE_ATOL, path="") -> str | None:
    """The first place (a dotted path) where nested data differs, or None."""
    where = path or "the result"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where} is missing or malformed"
        for k in want:
            if k not in got:
                return f"{where} has no {k!r}"
            d = difference(got[k], want[k], rtol, atol, f"{path}.{k}" if path else str(k))
            if d:
                return d
        return None
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"{where} is not a list"
        if len(got) != len(want):
            return f"{where} has {len(got)} entries, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = difference(g, w, rtol, atol, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return None if (got == want and type(got) is type(want)) else f"{where} is {got!r}, expected {want!r}"
    if isinstance(want, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"{where} is {got!r}, expected {want!r}"
        if math.isnan(want) and math.isnan(got):
            return None
        if not math.isclose(got, want, rel_tol=rtol, abs_tol=atol):
            return f"{where} is {got:.6g}, expected {want:.6g}"
        return None
    return None if got == want else f"{where} is {got!r}, expected {want!r}"


def case_differences(got: dict, want: dict) -> dict:
    """Per optimizer case: None when it agrees, else a sentence. Errors in the student's code count."""
    out: dict[str, str | None] = {}
    got_cases = got.get("cases", {}) if isinstance(got, dict) else {}
    for name, w in want["cases"].items():
        g = got_cases.get(name) if isinstance(got_cases, dict) else None
        if not isinstance(g, dict):
            out[name] = "this case produced no result"
        elif "error" in g:
            out[name] = f"your code raised {str(g['error'])[:300]}"
        elif "error" in w:
            out[name] = None if "error" in g else "expected an error here"
        else:
            out[name] = traj_difference(g.get("traj"), w["traj"])
    return out


def agrees(got, want) -> bool:
    """Whole-result agreement: optimizer results case by case, anything else structurally."""
    if isinstance(want, dict) and "cases" in want:
        return all(d is None for d in case_differences(got, want).values())
    return difference(got, want) is None
