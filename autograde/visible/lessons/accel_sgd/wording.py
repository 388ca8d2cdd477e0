"""What the accelerated-SGD lesson says about a callback's fits, in the lesson's words, on both paths.

The callback drivers log {fit1: {key: values}, fit2: ...} (callbacks.py). The visible checks and the
hidden tests' judges (trusted/lessons/accel_sgd/judges.py) both word a fit's difference with
`fit_difference`, so a student reads the same sentence in the self-check and in the feedback: "after
the first fit, self.learn is not set; it should be None". Anything else is worded by the generic
visible/wording.py.
"""
from __future__ import annotations

from autograde.visible import wording
from autograde.visible.compare import difference

FITS = {"fit1": "the first fit", "fit2": "the second fit (the same learner, fitted again)"}


def fit_name(fit: str) -> str:
    return FITS.get(fit, fit)


def times(n: int, what: str = "time", plural: str = "") -> str:
    """'1 time', '3 times', '0 batches' (plural: when not what + 's')."""
    return f"{n} {what if n == 1 else plural or what + 's'}"


def _phase(step) -> str:
    try:
        epoch, batch, training = step
        if int(batch) < 0:  # the learner has not started a batch of this fit yet
            return f"epoch {int(epoch) + 1}, before its first batch"
        return f"epoch {int(epoch) + 1}, {'training' if training else 'validation'} batch {int(batch) + 1}"
    except (TypeError, ValueError):
        return repr(step)


def _steps(got, want) -> str:
    if not isinstance(got, list):
        return "the scheduler's steps were not recorded"
    if len(got) != len(want):
        extra = list(dict.fromkeys(_phase(s) for s in got if s not in want))
        where = f" (also during {'; '.join(extra[:3])})" if extra else ""
        return f"the scheduler was stepped {times(len(got))}, expected {len(want)}{where}"
    i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    return f"scheduler step {i + 1} came at {_phase(got[i])}, expected at {_phase(want[i])}"


def _series(got, want, what: str) -> str:
    if not isinstance(got, list):
        return f"no {what}s were recorded"
    if len(got) != len(want):
        return f"{times(len(got), what)} {'was' if len(got) == 1 else 'were'} recorded, expected {len(want)}"
    i = next((i for i, (g, w) in enumerate(zip(got, want)) if difference(g, w) is not None), None)
    return f"{what} {i + 1} is {got[i]!r}, expected {want[i]!r}" if i is not None else difference(got, want) or ""


def _created(got, want) -> str:
    if isinstance(got, list) and not got:
        return ("the scheduler was not built (expected once, at the start of the fit, on the learner's optimizer "
                "learn.opt)")
    if isinstance(got, list) and len(got) != len(want):
        return f"the scheduler was built {times(len(got))}, expected once (at the start of the fit)"
    return "the scheduler was not built on the learner's optimizer (learn.opt)"


def _during(fit: str, got) -> str:
    where = ""
    if isinstance(got, list) and got:
        held = next((i for i, seen in enumerate(got) if seen is not True), len(got))
        where = (f" (at any of its {len(got)} batches)" if not any(s is True for s in got) else
                 f" (from batch {held + 1} of {len(got)} on)" if all(s is not True for s in got[held:]) else
                 f" (at {sum(s is not True for s in got)} of its {len(got)} batches)")
    return f"during {fit_name(fit)}, self.learn was not the learner{where}"


def _after(fit: str, got) -> str:
    said = {"learner": "still holds the learner", "missing": "is not set", "other": "holds something else",
            "none": "is None"}
    return f"after {fit_name(fit)}, self.learn {said.get(got, repr(got))}; it should be None"


def fit_difference(fit: str, got, want: dict) -> str:
    """The first difference within one fit, as a sentence (lower case): the self-check's and the judge's."""
    if not isinstance(got, dict):
        return f"in {fit_name(fit)} nothing was recorded"
    for key in want:
        g, w = got.get(key), want[key]
        if difference(g, w) is None:
            continue
        if key == "during":
            return _during(fit, g)
        if key == "after":
            return _after(fit, g)
        if key == "steps":
            part = _steps(g, w)
        elif key == "created":
            part = _created(g, w)
        elif key == "lrs":
            if not isinstance(g, list) or len(g) != len(w):
                part = f"{len(g) if isinstance(g, list) else 'no'} training batches ran, expected {len(w)}"
            else:
                i = next(i for i, (a, b) in enumerate(zip(g, w)) if difference(a, b) is not None)
                part = f"training batch {i + 1} ran with learning rate {g[i]!r}, expected {w[i]!r}"
        else:
            part = _series(g, w, f"'{key}' value")
        return f"in {fit_name(fit)}, {part}"
    return difference(got, want) or ""


def differing_fits(got, want: dict) -> list:
    """The fits (keys of want) whose data differ, in order."""
    return [f for f in want if difference(got.get(f) if isinstance(got, dict) else None, want[f]) is not None]


def fits(got, want) -> str:
    """Scheduler, HasLearnCB and RecorderCB data: the first fit that differs, in words."""
    differ = differing_fits(got, want)
    if differ:
        return fit_difference(differ[0], got.get(differ[0]) if isinstance(got, dict) else None, want[differ[0]])
    return difference(got, want) or ""


def describe(got, want) -> str:
    """The first difference, as a sentence: the fits in the lesson's words, anything else generically."""
    if wording.error_of(got) is None and isinstance(want, dict) and want and all(k in FITS for k in want):
        return fits(got, want)
    return wording.describe(got, want)
