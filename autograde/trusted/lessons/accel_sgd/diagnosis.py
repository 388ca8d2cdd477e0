"""A mistake the catalogue does not know still gets words: what the hidden cases show.

The judge has, per case, the student's and the solution's parameters after every step, and each
case is built to isolate one ingredient (HIDDEN_OPT_CASES): no weight decay (cold start,
tiny gradients), tiny vs large gradients, 40 steps (after warm-up), two parameters. Which cases
differ, from which step, and by what factor the first step is off tell the student where to look.
For callbacks, the fits and phases say it: first or second fit, training or validation, when.
Trusted side only: it regenerates the cases' starting parameters from their seeds.
"""
from __future__ import annotations

import numpy as np

from autograde.visible.lessons.accel_sgd.callbacks import HIDDEN_PLAN
from autograde.visible.lessons.accel_sgd.optimizers import HIDDEN_OPT_CASES
from autograde.visible.compare import TRAJ_ATOL, TRAJ_RTOL, as_matrix

WARM = 8  # a first difference at this step or later is "only after warm-up"


def _first_bad_step(got, want) -> int | None:
    g, w = as_matrix(got), as_matrix(want)
    if g is None or w is None or g.shape != w.shape:
        return None
    bad = ~np.isclose(g, w, rtol=TRAJ_RTOL, atol=TRAJ_ATOL, equal_nan=True)
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


def optimizer(data: dict, want: dict) -> str:
    """One sentence on what the differing cases have in common, or '' when nothing can be said."""
    spec = {c.name: c for c in HIDDEN_OPT_CASES}
    got_cases = data.get("cases", {})
    first = {}
    for name, w in want["cases"].items():
        g = got_cases.get(name)
        if name not in spec or not isinstance(g, dict) or "traj" not in g or "traj" not in w:
            continue
        first[name] = _first_bad_step(g["traj"], w["traj"])
    failed = {n: s for n, s in first.items() if s != -1}
    measured = {n: s for n, s in failed.items() if s is not None}
    if not measured:
        return ""
    parts = []
    passed = [n for n, s in first.items() if s == -1]
    without_wd = [n for n in first if spec[n].wd == 0]
    if all(spec[n].wd > 0 for n in failed) and without_wd and all(n in passed for n in without_wd):
        parts.append("only the cases with weight decay differ (those without it are right), so look at how "
                     "the decay is applied")
    if set(failed) == {"two parameters"}:
        parts.append("only with two parameters: something is shared between parameters or counted once "
                     "per parameter instead of once per step")
    earliest = min(measured.values())
    if earliest >= WARM:
        parts.append(f"only after warm-up: the first {earliest} steps are right and the error builds up over "
                     f"many steps, so look at a value kept from step to step")
    elif earliest == 0:
        parts.append("the very first step already differs, so the update rule itself is off (not only the "
                     "state carried between steps)")
    else:
        parts.append(f"the first step is right and step {earliest + 1} differs, so the state carried from step "
                     f"to step, or a correction that depends on the step number, is off")
    if not parts or "weight decay" not in parts[0]:  # the decay-free cases passed: no scale to compare
        parts.append(_scale(spec, measured, data, want))
    return "What the cases show: " + "; ".join(p for p in parts if p) + "."


def _scale(spec, measured, data, want) -> str:
    """Whether the error follows the gradient's size, from the tiny- and large-gradient cases."""
    tiny, large = "tiny gradients", "large gradients"
    if tiny in measured and large not in measured:
        return "it shows with tiny gradients but not with large ones: look at what matters only for small " \
               "values (eps, where it goes, a square root)"
    if large in measured and tiny not in measured:
        return "it shows with large gradients but not with tiny ones"
    if tiny not in measured or measured[tiny] != 0 or measured[large] != 0:
        return ""
    f = {n: _first_step_factor(spec[n], data["cases"][n]["traj"], want["cases"][n]["traj"]) for n in (tiny, large)}
    if None in f.values():
        return ""
    if f[tiny] * f[large] > 0 and abs(f[tiny] / f[large] - 1) < 0.05:
        side = " and in the wrong direction" if f[tiny] < 0 else ""
        return (f"the first step is {f[tiny]:.3g} times the solution's with tiny and with large gradients alike"
                f"{side}: the error scales with the gradient's size, like a missing or extra constant factor "
                f"(the learning rate, a weight)")
    return (f"the first step is {f[tiny]:.3g} times the solution's with tiny gradients but {f[large]:.3g} times "
            f"with large ones: the error does not simply scale with the gradient's size (a square, a root, "
            f"eps or a running average's start)")


def callback(data: dict, want: dict, kind: str) -> str:
    """Which fit and which phase (training, validation, before/after) the callback gets wrong."""
    fits = [f for f in want if f in data and data[f] != want[f]]
    if not fits or any(not isinstance(data.get(f), dict) for f in fits):
        return ""
    parts = []
    if fits == ["fit2"] and "fit1" in want:
        parts.append("the first fit is right and the second differs, so something kept from the first fit "
                     "is not started afresh in before_fit")
    elif len(fits) == len(want) > 1:
        parts.append("every fit differs, so it is not about state left from an earlier fit")
    for f in fits:
        got, w = data[f], want[f]
        if "steps" in w:
            steps = got.get("steps", [])
            if any(s[2] is False for s in steps):
                parts.append("the scheduler also stepped during validation, when learn.training is False")
            elif len(steps) == len(w["steps"]) and steps != w["steps"]:
                parts.append("it steps as often as it should but at the wrong moment (before instead of after)")
            elif steps == w["steps"] and got.get("lrs") != w["lrs"]:
                parts.append("the steps are logged at the right batches, but the learning rate each training batch "
                             "ran with is already stepped: the scheduler moves before the batch instead of after it")
            elif len(steps) != len(w["steps"]):
                parts.append(f"it stepped {len(steps)} times in the {_nth(f)} fit instead of {len(w['steps'])} "
                             f"(once per {'training batch' if kind == 'batch_sched' else 'training epoch' if kind == 'epoch_sched' else 'training step'})")
        elif "during" in w and got.get("during") == w["during"] and got.get("after") != w["after"]:
            parts.append(f"it holds the learner during the {_nth(f)} fit but not as it should after the fit ends "
                         f"(after_fit)")
        elif kind == "recorder":
            parts.append(_record_length(f, got, w))
        if len(parts) > 2:
            break
    parts = [p for p in dict.fromkeys(parts) if p]
    return "What the fits show: " + "; ".join(parts) + "." if parts else ""


def _record_length(fit: str, got: dict, want: dict) -> str:
    """A recorder's list lengths against the plan: validation batches recorded, or a record carried over."""
    n_got = max((len(v) for v in got.values()), default=0)
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


def _nth(fit: str) -> str:
    return {"fit1": "first", "fit2": "second"}.get(fit, fit)
