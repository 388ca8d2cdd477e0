"""A mistake the catalogue does not know still gets words: what the hidden cases have in common.

The judge has, per case, the student's and the solution's parameters after every step, and each
case is built to isolate one ingredient (HIDDEN_OPT_CASES): no weight decay (cold start, tiny
gradients), tiny vs large gradients, 40 steps (after warm-up), two parameters. Which cases differ,
from which step, and by what factor the first step is off tell the student where to look. For
callbacks, the fits and phases say it: first or second fit, training or validation, when.

Each hint is said only when the data show its premise, and the hints exclude each other where
their premises would: "only the cases with weight decay differ" needs a case that isolates the decay
to fail, so a mistake seen only with two parameters is not sent to the decay; "the very first step
already differs" needs a parameter that is off at its first step on its own, not only the second
of two. `optimizer_hints` and `callback_hints` give them most specific first (tests/uncatalogued.py
keeps a corpus of mistakes outside the catalogue with the hint each must get first).
Trusted side only: it regenerates the cases' starting parameters from their seeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograde.visible.compare import TRAJ_ATOL, TRAJ_RTOL, as_matrix
from autograde.visible.lessons.accel_sgd.callbacks import HIDDEN_PLAN
from autograde.visible.lessons.accel_sgd.optimizers import HIDDEN_OPT_CASES
from autograde.visible.lessons.accel_sgd.wording import differing_fits, times

WARM = 8  # a first difference at this step or later is "only after warm-up"
TWO = "two parameters"                                # the one case where parameters could share state
DECAY_ALONE = ("weight decay", "decay through a subclass")  # cases whose only ingredient is the decay
TINY, LARGE = "tiny gradients", "large gradients"


def _bad(got, want) -> np.ndarray | None:
    """Steps × elements: where the student's parameters leave the solution's (None: not comparable)."""
    g, w = as_matrix(got), as_matrix(want)
    if g is None or w is None or g.shape != w.shape:
        return None
    return ~np.isclose(g, w, rtol=TRAJ_RTOL, atol=TRAJ_ATOL, equal_nan=True)


def _first_bad_step(got, want) -> int | None:
    """The first step (0-based) that differs; -1 when none does, None when the data are not comparable."""
    bad = _bad(got, want)
    if bad is None:
        return None
    return int(np.argmax(bad.any(axis=1))) if bad.any() else -1


def _start(case) -> np.ndarray:
    """The case's parameters before the first step (same seed and order as optimizers.run_opt_case)."""
    import torch
    gen = torch.Generator().manual_seed(case.seed)
    return np.concatenate([torch.randn(s, generator=gen).reshape(-1).numpy() for s in case.shapes]).astype(np.float64)


def _first_step_factor(case, got, want) -> float | None:
    """How many times the solution's first step the student's first step is (median over elements)."""
    g, w = as_matrix(got), as_matrix(want)
    if g is None or w is None or g.shape != w.shape or not np.isfinite(g[0]).all():
        return None
    p0 = _start(case)
    if p0.shape != w[0].shape:
        return None
    mine, theirs = g[0] - p0, w[0] - p0
    ok = np.abs(theirs) > 1e-12
    return float(np.median(mine[ok] / theirs[ok])) if ok.any() else None


@dataclass
class _Cases:
    """What the hidden optimizer cases show: per case, the first differing step (-1: right, None: no
    comparable result, e.g. an error) and, for the two-parameter case, whether its first parameter alone
    is right at the first step."""
    spec: dict
    first: dict
    data: dict
    want: dict

    @property
    def failed(self) -> set:
        return {n for n, s in self.first.items() if s != -1}

    @property
    def passed(self) -> set:
        return {n for n, s in self.first.items() if s == -1}

    def first_param_right_at_first_step(self, name: str) -> bool:
        bad = _bad(self.data["cases"][name].get("traj"), self.want["cases"][name]["traj"])
        size = int(np.prod(self.spec[name].shapes[0]))
        return bad is not None and bool(not bad[0, :size].any() and bad[0, size:].any())

    def first_steps(self) -> dict:
        """Each failing case's first differing step, counted only where one parameter alone shows it:
        the two-parameter case's second parameter, off at step 1 only because of the first, is left out."""
        out = {n: s for n, s in self.first.items() if s not in (-1, None)}
        if out.get(TWO) == 0 and self.first_param_right_at_first_step(TWO):
            del out[TWO]
        return out


def _cases(data: dict, want: dict) -> _Cases:
    spec = {c.name: c for c in HIDDEN_OPT_CASES}
    got_cases = data.get("cases", {}) if isinstance(data.get("cases"), dict) else {}
    first = {}
    for name, w in want["cases"].items():
        if name not in spec or "traj" not in w:
            continue
        g = got_cases.get(name)
        first[name] = _first_bad_step(g["traj"], w["traj"]) if isinstance(g, dict) and "traj" in g else None
    return _Cases(spec, first, data, want)


# ---------------------------------------------------------------------------------------------
# The optimizer's hints, each with its premise; in the order they are shown (most specific first)

def _two_parameters(c: _Cases) -> str:
    single = [n for n in c.first if len(c.spec[n].shapes) == 1]
    if TWO not in c.failed or not single or any(n in c.failed for n in single):
        return ""
    within = (", and in its first step the first parameter is right while the second is not"
              if c.first.get(TWO) == 0 and c.first_param_right_at_first_step(TWO) else "")
    return (f"only with two parameters{within}: something is shared between the parameters, or counted once "
            f"per parameter instead of once per step (every case with one parameter is right)")


def _weight_decay(c: _Cases) -> str:
    without = [n for n in c.first if c.spec[n].wd == 0]
    if (not c.failed or not without or any(c.spec[n].wd == 0 for n in c.failed)
            or not any(n in c.failed for n in DECAY_ALONE)):
        return ""
    return ("only the cases with weight decay differ (those without it are right), so look at how the decay "
            "is applied")


def _standing_still(c: _Cases) -> str:
    """The first step leaves the parameters where they were, in every decay-free case that differs."""
    free = [n for n in c.failed if c.spec[n].wd == 0 and c.first.get(n) == 0]
    if not free:
        return ""
    for n in free:
        traj = as_matrix(c.data["cases"][n].get("traj"))
        if traj is None or not np.allclose(traj[0], _start(c.spec[n]), rtol=0, atol=1e-12):
            return ""
    return ("the first step does not move the parameters at all (without weight decay): the step is taken "
            "with a value before it holds anything, e.g. an average used before this gradient is added to it")


def _scale(c: _Cases) -> str:
    """Whether the error follows the gradient's size, from the tiny- and large-gradient cases."""
    first = c.first_steps()
    if TINY in first and LARGE in c.passed:
        return ("it shows with tiny gradients but not with large ones: look at what matters only for small "
                "values (eps, where it goes, a square root)")
    if LARGE in first and TINY in c.passed and any(c.spec[n].wd == 0 for n in first):
        # (the large-gradient case has weight decay, the tiny one has not: without a decay-free case
        # that differs too, the decay could be what differs)
        return "it shows with large gradients but not with tiny ones"
    if first.get(TINY) != 0 or first.get(LARGE) != 0:
        return ""
    found = {n: _first_step_factor(c.spec[n], c.data["cases"][n]["traj"], c.want["cases"][n]["traj"])
             for n in (TINY, LARGE)}
    if None in found.values() or 0.0 in found.values():
        return ""
    f = {n: v for n, v in found.items() if v is not None}
    if f[TINY] * f[LARGE] > 0 and abs(f[TINY] / f[LARGE] - 1) < 0.05:
        side = " and in the wrong direction" if f[TINY] < 0 else ""
        return (f"the first step is {f[TINY]:.3g} times the solution's with tiny and with large gradients alike"
                f"{side}: the error scales with the gradient's size, like a missing or extra constant factor "
                f"(the learning rate, a weight, or the value a running average starts from)")
    return (f"the first step is {f[TINY]:.3g} times the solution's with tiny gradients but {f[LARGE]:.3g} times "
            f"with large ones: the error does not simply scale with the gradient's size (a square, a root, "
            f"eps or a running average's start)")


def _when(c: _Cases) -> str:
    first = c.first_steps()
    if not first:
        return ""
    earliest = min(first.values())
    if earliest >= WARM:
        return (f"only after warm-up: the first {earliest} steps are right and the error builds up over many "
                f"steps, so look at a value kept from step to step")
    if earliest == 0:
        return ("the very first step already differs, so the step itself, or the value its state starts "
                "from, is off (not only what is carried from step to step)")
    return (f"the first step is right and step {earliest + 1} differs, so the state carried from step to step, "
            f"or a correction that depends on the step number, is off")


OPTIMIZER_HINTS = (_two_parameters, _weight_decay, _standing_still, _scale, _when)


def optimizer_hints(data: dict, want: dict) -> list[str]:
    """The hints the data support, most specific first ([] when nothing can be said)."""
    c = _cases(data, want)
    if not c.failed:
        return []
    return [h for h in (hint(c) for hint in OPTIMIZER_HINTS) if h]


def optimizer(data: dict, want: dict) -> str:
    """One sentence on what the differing cases have in common, or '' when nothing can be said."""
    hints = optimizer_hints(data, want)
    return "What the cases show: " + "; ".join(hints) + "." if hints else ""


# ---------------------------------------------------------------------------------------------
# Callbacks: which fit, which phase

def _nth(fit: str) -> str:
    return {"fit1": "first", "fit2": "second"}.get(fit, fit)


def _sched_hints(fit: str, got: dict, want: dict, kind: str) -> list[tuple[int, str, str]]:
    """(rank, which, hint) for one fit of a scheduler callback; a lower rank is more specific, and a
    hint of the same `which` from a later fit says nothing new."""
    created, steps, lrs = got.get("created"), got.get("steps"), got.get("lrs")
    if not (isinstance(created, list) and isinstance(steps, list) and isinstance(lrs, list)):
        return []
    hints = []
    if created != want["created"]:
        if not created and steps:
            moved = len(set(lrs)) > 1
            hints.append((0, "built", f"the scheduler was not built again for the {_nth(fit)} fit: a scheduler from an "
                             f"earlier fit, tied to that fit's optimizer, was stepped instead, so the learning "
                             f"rate of this fit's optimizer (learn.opt) "
                             f"{'did not follow it' if moved else 'never moved'}: build it in before_fit, every fit"))
        elif len(created) > 1:
            hints.append((0, "built", f"the scheduler was built {times(len(created))} in the {_nth(fit)} fit "
                                      f"instead of once: build it in before_fit, not at every epoch or batch"))
        elif created and not all(created):
            hints.append((0, "built", "the scheduler was not built on the learner's optimizer, learn.opt"))
    in_valid = [s for s in steps if isinstance(s, list) and len(s) == 3 and s[2] is False]
    if in_valid and len(in_valid) == len(steps):
        hints.append((0, "when", "the scheduler stepped only during validation, when learn.training is False, "
                                 "and never while training: the training check is the wrong way round"))
    elif in_valid:
        hints.append((1, "when", "the scheduler also stepped during validation, when learn.training is False"))
    elif len(steps) != len(want["steps"]):
        per = {"batch_sched": "training batch", "epoch_sched": "training epoch"}.get(kind, "training step")
        hints.append((1, "when", f"it stepped {times(len(steps))} in the {_nth(fit)} fit instead of "
                         f"{len(want['steps'])} (once per {per})"))
    elif steps != want["steps"]:
        at = [tuple(s[:2]) for s in steps]
        expected = [tuple(s[:2]) for s in want["steps"]]
        earlier = all(a <= b for a, b in zip(at, expected))
        hints.append((1, "when", "it steps as often as it should but at the wrong moment"
                         + (" (before instead of after)" if earlier else "")))
    elif lrs != want["lrs"] and lrs[:-1] == want["lrs"][1:] and created == want["created"]:
        hints.append((1, "when", "the steps are logged at the right batches, but each training batch ran with the "
                         "learning rate meant for the next one: the scheduler moves before the batch instead "
                         "of after it"))
    return hints


def _has_learn_hints(fit: str, got: dict, want: dict) -> list[tuple[int, str, str]]:
    during, after = got.get("during"), got.get("after")
    if not isinstance(during, list):
        return []
    if during == want["during"]:
        return [(1, "after", f"it holds the learner during the {_nth(fit)} fit but not as it should after the fit "
                             f"ends (after_fit)")] if after != want["after"] else []
    if not any(s is True for s in during):
        return [(0, "during", f"self.learn is never the learner during the {_nth(fit)} fit: keep it on self in "
                              f"before_fit")]
    held = during.index(False) if False in during else len(during)
    if during[:held] == want["during"][:held] and not any(during[held:]):
        return [(0, "during", f"the learner is let go of before the fit ends (after "
                              f"{times(held, 'batch', 'batches')} of {len(during)}): let go of it in after_fit, "
                              f"not earlier")]
    return []


def _record_length(fit: str, got: dict, want: dict) -> str:
    """A recorder's list lengths against the plan: validation batches recorded, or a record carried over."""
    n_got = max((len(v) for v in got.values() if isinstance(v, list)), default=0)
    n_want = max((len(v) for v in want.values()), default=0)
    if n_got == n_want:
        return ""
    index = int(fit[3:]) - 1
    train, valid, epochs = HIDDEN_PLAN
    earlier = sum(train * e for e in epochs[:index])
    if n_got - n_want == valid * epochs[index]:
        why = "it also recorded during validation, when learn.training is False"
    elif index and n_got - n_want == earlier:
        why = "it kept the earlier fit's record"
    else:
        why = "one entry per training batch of that fit was expected"
    return f"the {_nth(fit)} fit's record has {n_got} entries per name instead of {n_want}: {why}"


def callback_hints(data: dict, want: dict, kind: str) -> list[str]:
    """Which fit and which phase (training, validation, before/after) the callback gets wrong, most
    specific first ([] when nothing can be said)."""
    fits = differing_fits(data, want)
    if not fits or any(not isinstance(data.get(f), dict) for f in fits):
        return []
    ranked = []
    for f in fits:
        got, w = data[f], want[f]
        if "steps" in w:
            ranked += _sched_hints(f, got, w, kind)
        elif "during" in w:
            ranked += _has_learn_hints(f, got, w)
        elif kind == "recorder":
            ranked.append((1, "length", _record_length(f, got, w)))
    if fits == ["fit2"] and "fit1" in want:
        ranked.append((2, "fits", "the first fit is right and the second differs, so something kept from the first "
                                  "fit is not started afresh in before_fit"))
    elif len(fits) == len(want) > 1:
        ranked.append((3, "fits", "every fit differs, so it is not about state left from an earlier fit"))
    first_of_each = {}
    for rank, which, hint in ranked:
        if hint and which not in first_of_each:
            first_of_each[which] = (rank, hint)
    return [h for _, h in sorted(first_of_each.values(), key=lambda r: r[0])]


def callback(data: dict, want: dict, kind: str) -> str:
    hints = callback_hints(data, want, kind)
    return "What the fits show: " + "; ".join(hints) + "." if hints else ""
