"""Verdicts: the student's data against the solution versions' data, in the trusted process.

The judge never imports or runs student code. It receives the data a hidden test cell's probe
wrote (see probe.py), runs the same drivers (the test's, from the lesson registry) on the solution
versions and on the catalogued mistakes, and hands both to the judge the test names (the lesson's
trusted JUDGES), which returns a score with feedback that names the mistake when one matches.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from autograde.visible import lesson as lessons
from autograde.trusted import lessons as trusted_lessons, mistakes, solution as reference, schema
from autograde.trusted.lessons import Judging
from autograde.visible.compare import agrees
from autograde.trusted.result_cache import cache_dir, store_json


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


def judging(test_id: str) -> Judging:
    return trusted_lessons.judging(test_id)


def _test(test_id: str):
    return lessons.for_test(test_id).tests_by_id[test_id]


# ---------------------------------------------------------------------------------------------
# Expected data (solution versions) and mistake data, cached

def _fingerprint(test_id: str) -> str:
    """Everything a reference run's numbers depend on: the solution, the lesson's drivers, the model and data
    code (miniai), torch, and the kind of device (a cache filled on a CPU never serves a GPU)."""
    import torch
    import miniai
    from autograde.running.gpus import device_kind
    miniai_src = [p.read_text() for p in sorted(Path(miniai.__file__).parent.rglob("*.py"))]
    parts = [json.dumps(reference.solution_sources(), sort_keys=True), *lessons.for_test(test_id).sources(),
             *miniai_src, torch.__version__, device_kind()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _disk_cached(test_id: str, compute):
    """Reference training runs take seconds: keep them on disk, keyed by everything they depend on."""
    path = cache_dir() / f"{test_id}-{_fingerprint(test_id)}.json"
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
        data = _reference_data(test_id, reference.sources_key())
    if isinstance(data, dict) and "error" in data:
        raise RuntimeError(f"the solution version fails {test_id}: {data['error']}")
    return data


@lru_cache(maxsize=None)
def _reference_data(test_id: str, solutions: str) -> dict:  # solutions: whose (reference.sources_key)
    test = _test(test_id)
    classes = reference.solution_classes()

    def compute():
        return test.driver(*(classes[c] for c in test.classes))
    return _disk_cached(test_id, compute) if test.costly else compute()


def variant_data(key: str, test_id: str) -> dict:
    return _variant_data(key, test_id, reference.sources_key())


@lru_cache(maxsize=None)
def _variant_data(key: str, test_id: str, solutions: str) -> dict:  # solutions: whose (reference.sources_key)
    test = _test(test_id)
    classes = mistakes.variant_classes(key)
    return test.driver(*(classes[c] for c in test.classes))


def candidate_mistakes(test_id: str) -> list:
    test = _test(test_id)
    if test.costly:
        return []  # too costly to replay; the lesson's cheaper tests name these mistakes
    return mistakes.affecting(test.exercise)


def matching_mistake(test_id: str, data) -> mistakes.Mistake | None:
    return next((m for m in candidate_mistakes(test_id) if agrees(data, variant_data(m.key, test_id))), None)


# ---------------------------------------------------------------------------------------------

def judge(test_id: str, data) -> Verdict:
    """Score one test cell from the data its probe wrote (None: the cell never produced any).

    Never raises for anything in `data`: malformed data (see schema.py) and any error while
    comparing become this test's zero with a message, so one submission cannot stop a class."""
    _known(test_id)
    try:
        data = schema.check(test_id, data)
    except schema.Malformed as e:
        return malformed(test_id, e)
    return _score(test_id, data)


def judge_probe(test_id: str, raw: bytes | None) -> Verdict:
    """judge() on the bytes a kernel's probe sent (None: it sent none): decoded here, checked once there."""
    try:
        data = None if raw is None else schema.decode(raw)
    except schema.Malformed as e:
        return malformed(test_id, e)
    return judge(test_id, data)


def _known(test_id: str) -> None:
    try:
        _test(test_id)
    except LookupError:
        raise KeyError(f"unknown test {test_id!r}") from None


def _score(test_id: str, data) -> Verdict:
    """The verdict on data that passed the test's schema."""
    if data is None:
        return Verdict(test_id, 0.0, "This test did not run: the notebook stopped or skipped it before "
                                     "its hidden checks could record a result.")
    verdict = judging(test_id).verdict
    want = reference_data(test_id)  # a failure here is the grader's, not the student's: let it show
    try:
        return verdict(_test(test_id), data, want)
    except Exception as e:  # noqa: BLE001 - a judge bug on odd data costs this test, not the class
        return Verdict(test_id, 0.0, f"The grader could not judge this test: {type(e).__name__}: {str(e)[:200]}. "
                                     f"It scores zero; ask your instructor to look at it.")


def malformed(test_id: str, why) -> Verdict:
    return Verdict(test_id, 0.0, f"This test's recorded result is malformed ({why}), so it scores zero: "
                                 f"results are only accepted as the grader's probe writes them.")
