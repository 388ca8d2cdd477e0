"""The judge, in process: the solution passes, every catalogued mistake is caught and named,
correct variants written differently get full marks, and malformed data scores zero without a crash.

These run the same drivers the probe runs inside the student's kernel (the lesson registry's collect);
tests/test_grading.py covers the whole path through nbgrader and the sandbox.
"""
import math
from dataclasses import replace

import pytest



from autograde.visible import lesson as lessons
from autograde.trusted import judge, mistakes, solution as reference
from corpus import CORRECT_VARIANTS, variant_sources

SMALL_TESTS = [t for t, s in lessons.current().tests_by_id.items() if not s.costly]
RUN_TESTS = [t for t, s in lessons.current().tests_by_id.items() if s.costly]


def collect_with(classes: dict, test_id: str) -> dict:
    return lessons.current().collect(test_id, *(classes[c] for c in lessons.current().tests_by_id[test_id].classes))


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: m.key)
def test_every_mistake_edit_applies_to_the_solution(mistake):
    source = reference.solution_sources()[mistake.exercise]
    assert mistakes.apply_edits(source, mistake) != source


@pytest.mark.parametrize("test_id", list(lessons.current().tests_by_id))
def test_the_solution_gets_full_marks(test_id):
    verdict = judge.judge(test_id, collect_with(reference.solution_classes(), test_id))
    assert (verdict.score, verdict.message) == (1.0, "")


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: m.key)
def test_every_mistake_is_caught_and_named(mistake):
    classes = mistakes.variant_classes(mistake.key)
    tests = [t for t in SMALL_TESTS if lessons.current().tests_by_id[t].exercise == mistake.exercise]
    verdicts = [judge.judge(t, collect_with(classes, t)) for t in tests]
    assert any(v.score < 1 for v in verdicts), f"{mistake.key} passes {tests}"
    named = [v for v in verdicts if v.score < 1]
    assert all(v.mistake == mistake.key for v in named), [(v.test_id, v.mistake) for v in named]
    assert all(mistake.name in v.message for v in named)


@pytest.mark.parametrize("variant", list(CORRECT_VARIANTS))
def test_correct_variants_written_differently_get_full_marks(variant):
    classes = reference.solution_classes(variant_sources(CORRECT_VARIANTS[variant]))
    touched = set(CORRECT_VARIANTS[variant])
    for test_id, spec in lessons.current().tests_by_id.items():
        if spec.exercise in touched or touched & {e for e, c in lessons.current().classes.items() if c in spec.classes}:
            verdict = judge.judge(test_id, collect_with(classes, test_id))
            assert verdict.score == 1.0, (test_id, verdict.message)


@pytest.mark.parametrize("key", ["sgd_forgot_lr", "momentum_state_reset", "rmsprop_eps_inside",
                                 "adam_eps_outside", "adam_bias_off_by_one"])
def test_short_runs_fail_mistakes_that_change_training(key):
    m = mistakes.BY_KEY[key]
    test_id = f"test_{m.exercise}_run"
    verdict = judge.judge(test_id, collect_with(mistakes.variant_classes(key), test_id))
    assert verdict.score == 0.0
    assert "your training loss leaves the solution's" in verdict.message
    assert verdict.details["curve"]["solution"] == judge.reference_data(test_id)["losses"]


def test_a_broken_recorder_fails_the_onecycle_schedule_half():
    classes = mistakes.variant_classes("recorder_not_reset")
    data = collect_with(classes, "test_batch_sched_cb_onecycle")
    data["recs"]["lr"] = data["recs"]["lr"][:-1]
    verdict = judge.judge("test_batch_sched_cb_onecycle", data)
    assert verdict.score == 0.5 and "recorded 1cycle schedule differs" in verdict.message


def test_feedback_says_which_step_and_element_differ():
    classes = mistakes.variant_classes("rmsprop_zero_init")
    verdict = judge.judge("test_rmsprop_small", collect_with(classes, "test_rmsprop_small"))
    assert "case 'cold start' (seed 1101): after step 1, parameter element" in verdict.message
    assert "off by" in verdict.message


def test_a_scheduler_stepping_in_validation_is_described():
    classes = mistakes.variant_classes("sched_steps_in_validation")
    verdict = judge.judge("test_base_sched_cb", collect_with(classes, "test_base_sched_cb"))
    assert verdict.mistake == "sched_steps_in_validation"
    assert "during validation" in verdict.message


@pytest.mark.parametrize("data", [None, {}, {"cases": "nonsense"}, {"cases": {"cold start": {"traj": [[math.nan]]}}},
                                  {"losses": "x"}, {"error": "NotImplementedError: "}, [1, 2, 3]],
                         ids=["missing", "empty", "bad-cases", "nan", "bad-losses", "error", "list"])
@pytest.mark.parametrize("test_id", ["test_sgd_small", "test_adam_run", "test_recorder_cb",
                                     "test_batch_sched_cb_onecycle"])
def test_malformed_data_scores_zero_without_crashing(test_id, data):
    verdict = judge.judge(test_id, data)
    assert verdict.score == 0.0 and verdict.message


def test_an_error_in_student_code_is_reported():
    verdict = judge.judge("test_sgd_small", lessons.current().collect("test_sgd_small", _Unfinished))
    assert verdict.score == 0.0
    assert "NotImplementedError" in verdict.message


class _Unfinished:
    def __init__(self, params, lr, wd=0.):
        self.params = list(params)

    def step(self):
        raise NotImplementedError()

    def zero_grad(self):
        pass


def test_a_reference_run_is_computed_once_when_two_threads_ask_together(monkeypatch, tmp_path):
    """The grader warms the reference in a thread while the judge may already need it."""
    import threading
    import time
    monkeypatch.setenv("AUTOGRADE_CACHE", str(tmp_path))
    judge._reference_data.cache_clear()
    calls = []

    def slow_driver(*classes):
        calls.append("test_sgd_run")
        time.sleep(0.2)
        return {"losses": [1.0], "accuracy": 0.5}
    real = judge._test
    monkeypatch.setattr(judge, "_test", lambda test_id: replace(real(test_id), driver=slow_driver))
    got = []
    threads = [threading.Thread(target=lambda: got.append(judge.reference_data("test_sgd_run"))) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        judge._reference_data.cache_clear()
    assert calls == ["test_sgd_run"]
    assert got == [{"losses": [1.0], "accuracy": 0.5}] * 2
