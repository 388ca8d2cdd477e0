"""The accelerated-SGD lesson's judges: how each kind of hidden test is scored (trusted side).

A test in the lesson's registry names its judge; JUDGES (in __init__) maps the name to the schema
its probe data must have and to one of these functions, each called as f(test, data, want) where
want is the solution versions' data. They name a catalogued mistake when one matches, else ask
the lesson's diagnosis what the differences have in common.
"""
from __future__ import annotations

import math

from autograde.trusted.judge import Verdict, matching_mistake
from autograde.trusted.lessons.accel_sgd import diagnosis
from autograde.visible.compare import case_differences, difference
from autograde.visible.lessons.accel_sgd.optimizers import HIDDEN_OPT_CASES

# Short runs: correct code written differently drifts by float rounding (largest gap measured:
# 3.1e-3, Momentum at lr 1.5 with lerp_); every catalogued mistake that touches the run moves the
# curve by 0.048 or more (Adam's eps outside the root; most by > 0.1). `bench/run_tolerance.py`
# prints the table; tests/test_judge.py keeps it true.
RUN_LOSS_TOL = 0.02       # largest allowed |loss - solution's loss| / solution's loss over the run
RUN_ACC_TOL = 0.03        # allowed difference of the final eval accuracy


def _named(m) -> str:
    return f"Looks like: {m.name}. {m.hint}" if m else ""


def _join(*parts) -> str:
    return " ".join(p for p in parts if p).strip()


def optimizer(test, data: dict, want: dict) -> Verdict:
    test_id = test.test_id
    diffs = case_differences(data, want)
    failed = {k: v for k, v in diffs.items() if v}
    score = round(1 - len(failed) / len(diffs), 4)
    if not failed:
        return Verdict(test_id, 1.0)
    m = matching_mistake(test_id, data)
    seeds = {c.name: c.seed for c in HIDDEN_OPT_CASES}
    case, what = next(iter(failed.items()))
    detail = f"{len(failed)} of {len(diffs)} cases differ; first, case '{case}' (seed {seeds[case]}): {what}."
    hint = "" if m else diagnosis.optimizer(data, want)
    return Verdict(test_id, score, _join(_named(m), hint, detail), m.key if m else None)


def curve_gap(got: list, want: list) -> tuple[float, int]:
    """Largest relative distance between two loss curves, and the batch where it occurs."""
    worst, at = 0.0, 0
    for i, (g, w) in enumerate(zip(got, want)):
        gap = math.inf if not (isinstance(g, (int, float)) and math.isfinite(g)) else abs(g - w) / max(abs(w), 1e-3)
        if gap > worst:
            worst, at = gap, i
    return worst, at


def _run_problem(data: dict, want: dict) -> tuple[str, dict]:
    """Empty string when the short run matches the solution's within tolerance, else why not."""
    if "error" in data:
        return f"The short training run failed: {str(data['error'])[:300]}", {}
    got = data.get("losses")
    if not isinstance(got, list) or len(got) != len(want["losses"]):
        return "The short training run did not produce one loss per training batch.", {}
    acc = data.get("accuracy")
    acc = acc if isinstance(acc, (int, float)) and not isinstance(acc, bool) else float("nan")
    details = {"curve": {"yours": got, "solution": want["losses"]},
               "accuracy": {"yours": acc, "solution": want["accuracy"]}}
    gap, at = curve_gap(got, want["losses"])
    acc_gap = abs(acc - want["accuracy"]) if math.isfinite(acc) else math.inf
    if gap <= RUN_LOSS_TOL and acc_gap <= RUN_ACC_TOL:
        return "", details
    g = got[at]
    return (f"In a short FashionMNIST run (seed {want['seed']}) your training loss leaves the solution's: "
            f"at batch {at + 1} it is {g if not isinstance(g, float) else f'{g:.4g}'} vs {want['losses'][at]:.4g}; "
            f"final accuracy {acc:.3f} vs {want['accuracy']:.3f}."), details


def run(test, data: dict, want: dict) -> Verdict:
    test_id = test.test_id
    problem, details = _run_problem(data, want)
    if not problem:
        return Verdict(test_id, 1.0, details=details)
    ex = test.exercise
    return Verdict(test_id, 0.0, _join(problem, f"The feedback of test_{ex}_small says what differs step by step."),
                   details=details)


def onecycle(test, data: dict, want: dict) -> Verdict:
    test_id = test.test_id
    if "error" in data:
        return Verdict(test_id, 0.0, f"The 1cycle run failed: {str(data['error'])[:300]}")
    recs_diff = difference(data.get("recs"), want["recs"], path="recorded")
    problem, details = _run_problem(data, want)
    parts = []
    if recs_diff:
        parts.append(f"The recorded 1cycle schedule differs: {recs_diff}.")
    if problem:
        parts.append(problem)
    score = (0.5 if not recs_diff else 0.0) + (0.5 if not problem else 0.0)
    return Verdict(test_id, score, _join(*parts), details=details)


def _describe_fit(fit: str, got, want) -> str:
    """What a scheduler/recorder callback did differently in one fit, in plain words."""
    if not isinstance(got, dict):
        return f"no result for the {fit} fit"
    if "steps" in want:
        steps = got.get("steps") if isinstance(got.get("steps"), list) else []
        in_valid = sum(1 for s in steps if isinstance(s, list) and len(s) == 3 and s[2] is False)
        if want["created"] != got.get("created"):
            return (f"in the {fit} fit the scheduler was built {len(got.get('created') or [])} time(s) "
                    f"(expected once, in before_fit, from learn.opt)")
        if len(steps) != len(want["steps"]) or in_valid:
            extra = f", {in_valid} of them during validation" if in_valid else ""
            return (f"in the {fit} fit the scheduler stepped {len(steps)} times{extra}; expected "
                    f"{len(want['steps'])}, all during training")
        d = difference(steps, want["steps"], path="steps")
        if d:
            i = next(i for i, (g, w) in enumerate(zip(steps, want["steps"])) if g != w)
            return (f"in the {fit} fit step {i + 1} of the scheduler came at (epoch, batch) = "
                    f"{tuple(steps[i][:2])}, expected {tuple(want['steps'][i][:2])}")
    return f"in the {fit} fit " + (difference(got, want) or "the results differ")


def callback(kind: str, test, data: dict, want: dict) -> Verdict:
    """Scheduler, HasLearnCB and RecorderCB tests; kind (the judge's name) words the diagnosis."""
    test_id = test.test_id
    if "error" in data:
        m = matching_mistake(test_id, data)
        return Verdict(test_id, 0.0, _join(_named(m), f"Your callback raised {str(data['error'])[:300]}"),
                       m.key if m else None)
    fits = [k for k in want if difference(data.get(k), want[k]) is not None]
    if not fits:
        return Verdict(test_id, 1.0)
    m = matching_mistake(test_id, data)
    score = round(1 - len(fits) / len(want), 4)
    what = "; ".join(_describe_fit({"fit1": "first", "fit2": "second"}.get(f, f), data.get(f), want[f])
                     for f in fits)
    hint = "" if m else diagnosis.callback(data, want, kind)
    return Verdict(test_id, score, _join(_named(m), what[0].upper() + what[1:] + ".", hint), m.key if m else None)
