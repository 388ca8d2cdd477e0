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
from autograde.visible.lessons.accel_sgd import LESSON, wording
from autograde.visible.lessons.accel_sgd.optimizers import HIDDEN_OPT_CASES
from autograde.visible.wording import NOT_WRITTEN, raised

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


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _not_written(error) -> bool:
    """The student's code raised the stub's NotImplementedError: the exercise is not written yet."""
    return raised(str(error)) == NOT_WRITTEN


def _title(exercise: str, judge: str) -> str:
    """The title the feedback page gives the exercise's test judged by `judge` (the registry's `what`):
    a message names a test as the student sees it, never by its id."""
    return next(t.what for t in LESSON.tests if t.exercise == exercise and t.judge == judge)


def optimizer(test, data: dict, want: dict) -> Verdict:
    test_id = test.test_id
    diffs = case_differences(data, want)
    failed = {k: v for k, v in diffs.items() if v}
    score = round(1 - len(failed) / len(diffs), 4)
    if not failed:
        return Verdict(test_id, 1.0)
    errors = [data["cases"][k].get("error") for k in failed if isinstance(data.get("cases", {}).get(k), dict)]
    if len(errors) == len(diffs) and all(_not_written(e) for e in errors):
        return Verdict(test_id, 0.0, _sentence(NOT_WRITTEN))
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


def _failed_run(error) -> str:
    if _not_written(error):
        return f"The short training run stopped at code that is {NOT_WRITTEN}."
    return f"The short training run failed: {str(error)[:300]}"


def _run_problem(data: dict, want: dict) -> tuple[str, dict]:
    """Empty string when the short run matches the solution's within tolerance, else why not.

    What is judged is the training loss, batch by batch. The final accuracy of a run this short is
    only a coarse summary: a wrong step can end as accurate as the right one, or more, so a close or
    higher accuracy is said to be no excuse, and why."""
    if "error" in data:
        return _failed_run(data["error"]), {}
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
    accuracy = f"final accuracy {acc:.3f} vs {want['accuracy']:.3f}"
    if gap <= RUN_LOSS_TOL:
        return (f"In a short FashionMNIST run (seed {want['seed']}) your training loss follows the solution's, "
                f"but the {accuracy}: more than {RUN_ACC_TOL} apart."), details
    g = got[at]
    where = (f"In a short FashionMNIST run (seed {want['seed']}) your training loss leaves the solution's: "
             f"at batch {at + 1} it is {g if not isinstance(g, float) else f'{g:.4g}'} vs {want['losses'][at]:.4g}, "
             f"more than {RUN_LOSS_TOL:.0%} apart")
    if acc_gap <= RUN_ACC_TOL or acc > want["accuracy"]:
        closeness = "higher than" if acc > want["accuracy"] else "close to"
        return (f"{where}. What is judged is that loss, batch by batch: your {accuracy} is {closeness} the "
                f"solution's, but after so few batches the accuracy says little, and steps that are off can "
                f"reach the same accuracy, or a better one, by chance."), details
    return f"{where}; {accuracy}.", details


def run(test, data: dict, want: dict) -> Verdict:
    test_id = test.test_id
    problem, details = _run_problem(data, want)
    if not problem:
        return Verdict(test_id, 1.0, details=details)
    small = _title(test.exercise, "optimizer")
    return Verdict(test_id, 0.0, _join(problem, f'"{small}" compares your steps with the solution\'s one by one: '
                                                f'when it also lost points, its message says where they part.'),
                   details=details)


def onecycle(test, data: dict, want: dict) -> Verdict:
    test_id = test.test_id
    if "error" in data:
        error = data["error"]
        return Verdict(test_id, 0.0, f"The 1cycle run stopped at code that is {NOT_WRITTEN}." if _not_written(error)
                       else f"The 1cycle run failed: {str(error)[:300]}")
    recs_diff = difference(data.get("recs"), want["recs"], path="recorded")
    problem, details = _run_problem(data, want)
    parts = []
    if recs_diff:
        parts.append(f"The recorded 1cycle schedule differs: {recs_diff}.")
    if problem:
        parts.append(problem)
    score = (0.5 if not recs_diff else 0.0) + (0.5 if not problem else 0.0)
    return Verdict(test_id, score, _join(*parts), details=details)


def callback(kind: str, test, data: dict, want: dict) -> Verdict:
    """Scheduler, HasLearnCB and RecorderCB tests; kind (the judge's name) words the diagnosis. Each
    differing fit is said in the self-check's words (the lesson's wording.fit_difference)."""
    test_id = test.test_id
    if "error" in data:
        if _not_written(data["error"]):
            return Verdict(test_id, 0.0, _sentence(NOT_WRITTEN))
        m = matching_mistake(test_id, data)
        return Verdict(test_id, 0.0, _join(_named(m), f"Your callback raised {str(data['error'])[:300]}"),
                       m.key if m else None)
    fits = wording.differing_fits(data, want)
    if not fits:
        return Verdict(test_id, 1.0)
    m = matching_mistake(test_id, data)
    score = round(1 - len(fits) / len(want), 4)
    what = "; ".join(wording.fit_difference(f, data.get(f), want[f]) for f in fits)
    hint = "" if m else diagnosis.callback(data, want, kind)
    return Verdict(test_id, score, _join(_named(m), _sentence(what), hint), m.key if m else None)
