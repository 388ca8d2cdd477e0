"""What a visible check says when the data differ, in the words of the lesson rather than the data's.

The drivers log plain data under short keys (`public: a few steps`, `values[2]`); a student reads
where it differs in words. A lesson may word its own data (Lesson.describe, e.g. the fits of a
callback) and fall back on describe() here. Pure functions over plain data, shipped in the student
kit; nothing here knows a solution or a lesson.
"""
from __future__ import annotations

from autograde.visible.compare import as_matrix, case_differences, difference

NOT_WRITTEN = "not written yet: replace `raise NotImplementedError()` with your code"
# Parameters this large after a few small steps mean a training run with this optimizer diverges.
BLOW_UP = 1e3

def raised(error: str) -> str:
    """An exception from the student's code, as a sentence."""
    error = str(error)
    if error.split(":", 1)[0].strip() == "NotImplementedError":
        return NOT_WRITTEN
    return f"your code raised {error[:300]}"


def depends_on(name: str, parent: str, looks_like: str | None = None) -> str:
    """A class whose check cannot judge it apart from a failing parent class (the DEPENDS state):
    grading judges it over the course's version of that parent, so its points hang on its own code."""
    seen = f" The difference looks like: {looks_like}." if looks_like else ""
    return (f"{name} builds on {parent}, which fails its own check, so this check cannot tell {name}'s own code apart "
            f"from it: fix {parent} first, then check {name} again.{seen} Grading judges {name} over the "
            f"course's {parent}, so a mistake in {parent} costs points in {parent} only.")


def case_name(name: str) -> str:
    return name.removeprefix("public: ")


def error_of(got) -> str | None:
    """The first error the student's code raised, anywhere in the data."""
    if isinstance(got, dict):
        if "error" in got:
            return str(got["error"])
        for v in got.get("cases", {}).values() if isinstance(got.get("cases"), dict) else ():
            if isinstance(v, dict) and "error" in v:
                return str(v["error"])
    return None


def blows_up(got) -> bool:
    """Parameters that turned NaN or huge on the public inputs: a real run would diverge."""
    for case in (got.get("cases", {}) if isinstance(got, dict) else {}).values():
        arr = as_matrix(case.get("traj")) if isinstance(case, dict) else None
        if arr is not None and arr.size and not (abs(arr) < BLOW_UP).all():
            return True
    return False


def describe(got, want) -> str:
    """The first difference between the student's data and the expected data, as a sentence."""
    error = error_of(got)
    if error is not None:
        return raised(error)
    if isinstance(want, dict) and "cases" in want:
        for name, text in case_differences(got, want).items():
            if text:
                note = (" — the parameters blow up (NaN or huge), so a training run with this optimizer "
                        "would diverge") if blows_up(got) else ""
                return f'in the "{case_name(name)}" check: {text}{note}'
        return ""
    return difference(got, want) or ""
