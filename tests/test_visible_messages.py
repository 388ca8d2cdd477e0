"""What the lesson's check(...) cells say, in the student's words: which class's method a difference
comes from, "not written yet" for an unfilled exercise, no internal names, no traceback."""
import pytest

from autograde.trusted import mistakes, solution as reference
from autograde.visible import checks as visible
from autograde.visible.lessons.accel_sgd import LESSON
EXERCISES = LESSON.classes

INTERNAL = ("fit1", "fit2", "public:", ".steps", ".lrs", ".created", "'cases'", "traj")


def _classes(**answers):
    sources = reference.solution_sources()
    for exercise, edit in answers.items():
        sources[exercise] = edit(sources[exercise])
    return reference.solution_classes(sources)


def _stub(source):
    head = source.split("    def opt_step")[0]
    return head + "    def opt_step(self, p):\n        raise NotImplementedError()\n"


def _double_decay(source):
    return source.replace("p *= 1 - self.lr * self.wd", "p *= 1 - 2 * self.lr * self.wd")


def test_an_unfilled_exercise_is_not_written_yet():
    got = visible.outcome("adam", _classes(adam=_stub)["Adam"])
    assert got == visible.Outcome("adam", "fail",
                                  "Adam: not written yet: replace `raise NotImplementedError()` with your code.")


def test_a_correct_class_over_a_catalogued_parent_mistake_is_told_which_method_to_fix():
    got = visible.outcome("epoch_sched_cb", mistakes.variant_classes("sched_steps_in_validation")["EpochSchedCB"])
    assert got == visible.Outcome(
        "epoch_sched_cb", "depends",
        "EpochSchedCB's own code agrees, but the difference comes from BaseSchedCB._step, which EpochSchedCB "
        "inherits (scheduler stepped during validation): fix BaseSchedCB first.", "base_sched_cb")


def test_a_correct_optimizer_over_an_unknown_parent_mistake_is_judged_without_weight_decay():
    got = visible.outcome("momentum", _classes(sgd=_double_decay)["Momentum"])
    assert (got.status, got.parent) == ("depends", "sgd")
    assert got.message.endswith("differ through SGD.reg_step, which Momentum inherits, and SGD fails its own "
                                "check: fix SGD first.")


def test_a_wrong_optimizer_over_a_wrong_parent_depends_on_the_parent():
    """Grading judges Momentum over the course's SGD; without it, the check cannot say Momentum is wrong."""
    wrong = _classes(sgd=_double_decay, momentum=lambda s: s.replace("p -= self.lr * p.grad_avg", "p -= p.grad_avg"))
    got = visible.outcome("momentum", wrong["Momentum"])
    assert got == visible.Outcome(
        "momentum", "depends",
        "Momentum builds on SGD, which fails its own check, so this check cannot tell Momentum's own code apart "
        "from it: fix SGD first, then check Momentum again. Grading judges Momentum over the course's SGD, so a "
        "mistake in SGD costs points in SGD only.", "sgd")


@pytest.mark.parametrize("key", [m.key for m in mistakes.CATALOGUE])
def test_every_catalogued_mistake_is_named_without_internal_names(key):
    m = mistakes.BY_KEY[key]
    got = visible.outcome(m.exercise, mistakes.variant_classes(key)[EXERCISES[m.exercise]])
    assert got.status == "fail"
    # (at the public checks' lr 0.1 and mom 0.9, "forgot the learning rate" and "un-dampened momentum"
    # are the same numbers; the check names the first)
    assert got.message.startswith(f"{EXERCISES[m.exercise]}: Looks like: ")
    assert not [word for word in INTERNAL if word in got.message]


def test_the_scheduler_difference_is_said_in_the_lesson_s_words():
    got = visible.outcome("base_sched_cb", mistakes.variant_classes("sched_steps_in_validation")["BaseSchedCB"])
    assert got.message.endswith("In the first fit, the scheduler was stepped 5 times, expected 3 "
                                "(also during epoch 1, validation batch 1).")


def test_parameters_that_blow_up_are_said_to_diverge():
    huge = _classes(momentum=lambda s: s.replace("p -= self.lr * p.grad_avg", "p -= 1e6 * p.grad_avg"))
    assert "so a training run with this optimizer would diverge" in visible.outcome("momentum", huge["Momentum"]).message


def test_a_failing_check_shows_its_message_only(capsys):
    with pytest.raises(visible.CheckFailed) as failed:
        visible.check("adam", _classes(adam=_stub)["Adam"])
    assert failed.value._render_traceback_() == [
        "\x1b[1;31m✗ Adam: not written yet: replace `raise NotImplementedError()` with your code.\x1b[0m"]


def test_a_passing_check_prints_a_tick(capsys):
    visible.check("sgd", reference.solution_classes()["SGD"])
    assert capsys.readouterr().out == "✓ SGD: all 4 public checks pass.\n"
