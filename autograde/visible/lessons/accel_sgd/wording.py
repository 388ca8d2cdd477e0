"""What the accelerated-SGD lesson's visible checks say about a callback's fits, in the lesson's words.

The callback drivers log {fit1: {key: values}, fit2: ...} (callbacks.py); a student reads "in the
first fit the scheduler was stepped 2 times, expected 1". Anything else is worded by the generic
visible/wording.py.
"""
from __future__ import annotations

from autograde.visible import wording
from autograde.visible.compare import difference

FITS = {"fit1": "in the first fit", "fit2": "in the second fit (the same learner, fitted again)"}


def _phase(step) -> str:
    try:
        epoch, batch, training = step
        return f"epoch {int(epoch) + 1}, {'training' if training else 'validation'} batch {int(batch) + 1}"
    except (TypeError, ValueError):
        return repr(step)


def _steps(got, want) -> str:
    if not isinstance(got, list):
        return "the scheduler's steps were not recorded"
    if len(got) != len(want):
        extra = list(dict.fromkeys(_phase(s) for s in got if s not in want))
        where = f" (also during {'; '.join(extra[:3])})" if extra else ""
        return f"the scheduler was stepped {len(got)} times, expected {len(want)}{where}"
    i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    return f"scheduler step {i + 1} came at {_phase(got[i])}, expected at {_phase(want[i])}"


def _series(got, want, what: str) -> str:
    if not isinstance(got, list):
        return f"no {what}s were recorded"
    if len(got) != len(want):
        return f"{len(got)} {what}s were recorded, expected {len(want)}"
    i = next((i for i, (g, w) in enumerate(zip(got, want)) if difference(g, w) is not None), None)
    return f"{what} {i + 1} is {got[i]!r}, expected {want[i]!r}" if i is not None else difference(got, want) or ""


def _fit_part(key: str, got, want) -> str:
    if key == "steps":
        return _steps(got, want)
    if key == "created":
        if isinstance(got, list) and len(got) != len(want):
            return f"the scheduler was built {len(got)} times, expected {len(want)} (once, at the start of the fit)"
        return "the scheduler was not built on the learner's optimizer (learn.opt)"
    if key == "lrs":
        if not isinstance(got, list) or len(got) != len(want):
            return f"{len(got) if isinstance(got, list) else 'no'} training batches ran, expected {len(want)}"
        i = next(i for i, (g, w) in enumerate(zip(got, want)) if difference(g, w) is not None)
        return f"training batch {i + 1} ran with learning rate {got[i]!r}, expected {want[i]!r}"
    if key == "during":
        return "during the fit, self.learn was not the learner"
    if key == "after":
        said = {"learner": "still holds the learner", "missing": "is not set", "other": "holds something else",
                "none": "is None"}
        return f"after the fit, self.learn {said.get(got, repr(got))}; it should be None"
    return _series(got, want, f"'{key}' value")


def fits(got, want) -> str:
    """Scheduler, HasLearnCB and RecorderCB data: {fit1: {key: values}, fit2: ...}."""
    for fit, w in want.items():
        g = got.get(fit) if isinstance(got, dict) else None
        if not isinstance(g, dict):
            return f"{FITS.get(fit, fit)} nothing was recorded"
        for key in w:
            if difference(g.get(key), w[key]) is not None:
                return f"{FITS.get(fit, fit)}, {_fit_part(key, g.get(key), w[key])}"
    return difference(got, want) or ""


def describe(got, want) -> str:
    """The first difference, as a sentence: the fits in the lesson's words, anything else generically."""
    if wording.error_of(got) is None and isinstance(want, dict) and want and all(k in FITS for k in want):
        return fits(got, want)
    return wording.describe(got, want)
