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


# ---------------------------------------------------------------------------------------------
# The student's words (issue 20 item 4, issue 18 item 6)

def _run_verdict(accuracy: float):
    """A run whose loss is 10% off at its second batch, with the given final accuracy."""
    from autograde.trusted.lessons.accel_sgd import judges
    want = {"losses": [2.3, 1.9, 1.5, 1.2], "accuracy": 0.791, "seed": 42}
    data = {"losses": [2.3, 2.09, 1.5, 1.2], "accuracy": accuracy, "seed": 42}
    return judges.run(lessons.current().tests_by_id["test_momentum_run"], data, want)


def test_a_run_points_to_the_small_test_by_the_title_the_page_shows():
    message = _run_verdict(0.6).message
    assert '"Momentum on small tensors" compares your steps with the solution\'s one by one' in message
    assert "test_momentum_small" not in message


def test_a_run_lost_with_a_higher_accuracy_says_what_was_judged_and_why_not_accuracy():
    v = _run_verdict(0.794)
    assert v.score == 0.0
    assert v.message.startswith(
        "In a short FashionMNIST run (seed 42) your training loss leaves the solution's: at batch 2 it is 2.09 vs "
        "1.9, more than 2% apart. What is judged is that loss, batch by batch: your final accuracy 0.794 vs 0.791 "
        "is higher than the solution's, but after so few batches the accuracy says little, and steps that are "
        "off can reach the same accuracy, or a better one, by chance.")


def test_a_run_lost_with_a_lower_accuracy_gives_both_numbers():
    assert "1.9, more than 2% apart; final accuracy 0.600 vs 0.791." in _run_verdict(0.6).message


@pytest.mark.parametrize("test_id", ["test_has_learn_cb", "test_base_sched_cb", "test_recorder_cb", "test_sgd_small"])
def test_a_stub_is_said_to_be_not_written_yet(test_id):
    if test_id == "test_sgd_small":
        data = lessons.current().collect(test_id, _Unfinished)
    else:
        data = {"error": "NotImplementedError: "}
    assert judge.judge(test_id, data).message == \
        "Not written yet: replace `raise NotImplementedError()` with your code."


def test_a_callback_is_described_in_the_self_check_s_words():
    """One sentence for the self-check and for grading: HasLearnCB that deletes self.learn after the fit."""
    from autograde.visible import checks
    sources = reference.solution_sources()
    sources["has_learn_cb"] = sources["has_learn_cb"].replace("self.learn = None", "del self.learn")
    classes = reference.solution_classes(sources)
    sentence = "after the first fit, self.learn is not set; it should be None"
    assert sentence in checks.outcome("has_learn_cb", classes["HasLearnCB"]).message
    graded = judge.judge("test_has_learn_cb", collect_with(classes, "test_has_learn_cb")).message
    assert graded.startswith(sentence[:1].upper() + sentence[1:] + "; after the second fit")
    assert "'missing'" not in graded
