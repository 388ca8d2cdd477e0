"""Verdicts: the student's data against the solution versions' data, in the trusted process.

The judge never imports or runs student code. It receives the data a hidden test cell's probe
wrote (see probe.py), runs the same drivers (cases.py) on the solution versions and on the
catalogued mistakes, and returns a score with feedback that names the mistake when one matches.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from autograde.visible import cases
from autograde.trusted import diagnosis, mistakes, solution as reference, schema
from autograde.visible.compare import agrees, case_differences, difference
from autograde.trusted.result_cache import cache_dir, store_json

# Short runs: correct code written differently drifts by float rounding (largest gap measured:
# 3.1e-3, Momentum at lr 1.5 with lerp_); every catalogued mistake that touches the run moves the
# curve by 0.048 or more (Adam's eps outside the root; most by > 0.1). `bench/run_tolerance.py`
# prints the table; tests/test_judge.py keeps it true.
RUN_LOSS_TOL = 0.02       # largest allowed |loss - solution's loss| / solution's loss over the run
RUN_ACC_TOL = 0.03        # allowed difference of the final eval accuracy


@dataclass
class Verdict:
    test_id: str
    score: float                      # fraction of the cell's points, 0..1
    message: str = ""                 # empty at full marks
    mistake: str | None = None        # catalogue key of the named mistake
    details: dict = field(default_factory=dict)  # for the feedback page (e.g. loss curves)

    def as_dict(self) -> dict:
        return {"test_id": self.test_id, "score": self.score, "message": self.message,
                "mistake": self.mistake, "details": self.details}


# ---------------------------------------------------------------------------------------------
# Expected data (solution versions) and mistake data, cached

def _fingerprint() -> str:
    """Everything a reference run's numbers depend on: the solution, the drivers, the model and data
    code (miniai), torch, and the kind of device (a cache filled on a CPU never serves a GPU)."""
    import torch
    import miniai
    from autograde.running.gpus import device_kind
    miniai_src = [p.read_text() for p in sorted(Path(miniai.__file__).parent.glob("*.py"))]
    parts = [json.dumps(reference.solution_sources(), sort_keys=True), inspect.getsource(cases),
             *miniai_src, torch.__version__, device_kind()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _disk_cached(test_id: str, compute):
    """Reference training runs take seconds: keep them on disk, keyed by everything they depend on."""
    path = cache_dir() / f"{test_id}-{_fingerprint()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    data = compute()
    store_json(path, data)
    return data


_reference_lock = threading.Lock()  # the grader warms the cache in a thread while it judges


def reference_data(test_id: str) -> dict:
    """The solution versions' results for one test (computed once per process, runs kept on disk)."""
    with _reference_lock:
        data = _reference_data(test_id)
    if isinstance(data, dict) and "error" in data:
        raise RuntimeError(f"the solution version fails {test_id}: {data['error']}")
    return data


@lru_cache(maxsize=None)
def _reference_data(test_id: str) -> dict:
    spec = cases.TESTS[test_id]
    classes = reference.solution_classes()

    def compute():
        return cases.collect(test_id, *(classes[c] for c in spec.classes))
    return _disk_cached(test_id, compute) if spec.kind in ("run", "onecycle") else compute()


@lru_cache(maxsize=None)
def variant_data(key: str, test_id: str) -> dict:
    spec = cases.TESTS[test_id]
    classes = mistakes.variant_classes(key)
    return cases.collect(test_id, *(classes[c] for c in spec.classes))


def candidate_mistakes(test_id: str) -> list:
    spec = cases.TESTS[test_id]
    if spec.kind in ("run", "onecycle"):
        return []  # too costly to replay; the small-tensor tests name these mistakes
    return mistakes.affecting(spec.exercise)


def matching_mistake(test_id: str, data) -> mistakes.Mistake | None:
    return next((m for m in candidate_mistakes(test_id) if agrees(data, variant_data(m.key, test_id))), None)


# ---------------------------------------------------------------------------------------------

def judge(test_id: str, data) -> Verdict:
    """Score one test cell from the data its probe wrote (None: the cell never produced any).

    Never raises for anything in `data`: malformed data (see schema.py) and any error while
    comparing become this test's zero with a message, so one submission cannot stop a class."""
    if test_id not in cases.TESTS:
        raise KeyError(f"unknown test {test_id!r}")
    try:
        data = schema.check(test_id, data)
    except schema.Malformed as e:
        return malformed(test_id, e)
    if data is None:
        return Verdict(test_id, 0.0, "This test did not run: the notebook stopped or skipped it before "
                                     "its hidden checks could record a result.")
    kind = cases.TESTS[test_id].kind
    want = reference_data(test_id)  # a failure here is the grader's, not the student's: let it show
    try:
        if kind == "optimizer":
            return _judge_optimizer(test_id, data, want)
        if kind == "run":
            return _judge_run(test_id, data, want)
        if kind == "onecycle":
            return _judge_onecycle(test_id, data, want)
        return _judge_callback(test_id, data, want)
    except Exception as e:  # noqa: BLE001 - a judge bug on odd data costs this test, not the class
        return Verdict(test_id, 0.0, f"The grader could not judge this test: {type(e).__name__}: {str(e)[:200]}. "
                                     f"It scores zero; ask your instructor to look at it.")


def malformed(test_id: str, why) -> Verdict:
    return Verdict(test_id, 0.0, f"This test's recorded result is malformed ({why}), so it scores zero: "
                                 f"results are only accepted as the grader's probe writes them.")


def _named(m) -> str:
    return f"Looks like: {m.name}. {m.hint}" if m else ""


def _join(*parts) -> str:
    return " ".join(p for p in parts if p).strip()


def _judge_optimizer(test_id: str, data: dict, want: dict) -> Verdict:
    diffs = case_differences(data, want)
    failed = {k: v for k, v in diffs.items() if v}
    score = round(1 - len(failed) / len(diffs), 4)
    if not failed:
        return Verdict(test_id, 1.0)
    m = matching_mistake(test_id, data)
    seeds = {c.name: c.seed for c in cases.HIDDEN_OPT_CASES}
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


def _run_problem(test_id: str, data: dict, want: dict) -> tuple[str, dict]:
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


def _judge_run(test_id: str, data: dict, want: dict) -> Verdict:
    problem, details = _run_problem(test_id, data, want)
    if not problem:
        return Verdict(test_id, 1.0, details=details)
    ex = cases.TESTS[test_id].exercise
    return Verdict(test_id, 0.0, _join(problem, f"The feedback of test_{ex}_small says what differs step by step."),
                   details=details)


def _judge_onecycle(test_id: str, data: dict, want: dict) -> Verdict:
    if "error" in data:
        return Verdict(test_id, 0.0, f"The 1cycle run failed: {str(data['error'])[:300]}")
    recs_diff = difference(data.get("recs"), want["recs"], path="recorded")
    problem, details = _run_problem(test_id, data, want)
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


def _judge_callback(test_id: str, data: dict, want: dict) -> Verdict:
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
    hint = "" if m else diagnosis.callback(data, want, cases.TESTS[test_id].kind)
    return Verdict(test_id, score, _join(_named(m), what[0].upper() + what[1:] + ".", hint), m.key if m else None)
