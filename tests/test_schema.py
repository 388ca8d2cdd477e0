"""Hostile probe data (issue 14 item 1): whatever a kernel wrote, every test kind gets a Verdict with
score 0 and a reason, never an exception that would stop the class from being graded."""
import json
import math

import pytest

from autograde.visible import lesson as lessons
from autograde.trusted import judge, schema

# One representative test per kind, and its real shape from the solution (cached by the judge).
BY_KIND = {s.judge: t for t, s in reversed(list(lessons.current().tests_by_id.items()))}
HUGE = 10**400


def _replace_numbers(data, value):
    if isinstance(data, dict):
        return {k: _replace_numbers(v, value) for k, v in data.items()}
    if isinstance(data, list):
        return [_replace_numbers(v, value) for v in data]
    return value if isinstance(data, float) else data


def _deep(n):
    out = []
    for _ in range(n):
        out = [out]
    return out


def hostile(test_id):
    """Malformed variants of a real result: name -> data."""
    real = judge.reference_data(test_id)
    out = {
        "huge ints": _replace_numbers(real, HUGE),
        "nan": _replace_numbers(real, math.nan),
        "inf": _replace_numbers(real, math.inf),
        "strings for numbers": _replace_numbers(real, "1.0"),
        "bools for numbers": _replace_numbers(real, True),
        "wrong type": [1, 2, 3],
        "a number": 3.5,
        "deep nesting": {k: _deep(5000) for k in real},
        "huge string": {k: "x" * 10**6 for k in real},
        "missing keys": {},
        "extra key": {**real, "extra": 1},
        "huge list": {k: [1.0] * 10**6 for k in real},
        "error not text": {"error": {"nested": [1]}},
        "dict keys": {str(i): {} for i in range(1000)},
    }
    return {k: v for k, v in out.items() if v != real}  # has_learn holds no numbers to replace




@pytest.mark.parametrize("test_id", list(BY_KIND.values()))
def test_hostile_data_scores_zero_with_a_reason(test_id):
    for name, data in hostile(test_id).items():
        v = judge.judge(test_id, data)
        assert v.score == 0.0 and v.message, (name, v)


@pytest.mark.parametrize("test_id", list(BY_KIND.values()))
def test_hostile_bytes_are_rejected_when_decoded_and_checked(test_id):
    for raw in [b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"{" * 10, b'{"cases": ' + b"1" * 5000 + b"}",
                b"NaN", b" " * (schema.MAX_BYTES + 1)]:
        with pytest.raises(schema.Malformed):
            schema.check(test_id, schema.decode(raw))


@pytest.mark.parametrize("test_id", list(BY_KIND.values()))
def test_the_solutions_own_results_pass_the_schema_unchanged(test_id):
    real = judge.reference_data(test_id)
    assert schema.check(test_id, schema.decode(json.dumps(real).encode())) == real


def test_an_overflowing_loss_curve_is_one_tests_zero():
    """The reported crash: losses=[10**400]*n raised OverflowError in curve_gap and stopped the class."""
    v = judge.judge("test_sgd_run", {**judge.reference_data("test_sgd_run"), "losses": [HUGE] * 20})
    assert v.score == 0.0 and "too large for a float" in v.message


def test_a_judge_error_is_that_tests_zero(monkeypatch):
    real = judge.judging
    monkeypatch.setattr(judge, "judging", lambda test_id: judge.Judging(real(test_id).schema, lambda *a: 1 / 0))
    v = judge.judge("test_has_learn_cb", judge.reference_data("test_has_learn_cb"))
    assert v.score == 0.0 and v.message.startswith("The grader could not judge this test: ZeroDivisionError")
