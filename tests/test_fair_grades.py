"""Fair grades, judge-level: each exercise judged on its own, nothing earned for nothing, and a
sentence for mistakes the catalogue does not know (issue 9 items 1, 2 and 4).

Classes are built from the solution sources with one exercise's text changed, and driven by the
same drivers the probe runs in the student's kernel (lesson.collect).
"""
import json
import re

import nbformat
import pytest

from autograde import paths
from autograde.visible.lessons.accel_sgd import optimizers
from autograde.visible import lesson as lessons
from autograde.trusted import isolation, judge, mistakes, solution as reference
from corpus import CORRECT_VARIANTS

SMALL = {t for t, s in lessons.current().tests_by_id.items() if not s.costly}


def exercise_tests(exercise, small_only=True):
    return [t for t, s in lessons.current().tests_by_id.items() if s.exercise == exercise and (t in SMALL or not small_only)]


def verdict(sources: dict, test_id: str):
    classes = reference.solution_classes(sources)
    return judge.judge(test_id, lessons.current().collect(test_id, *(classes[c] for c in lessons.current().tests_by_id[test_id].classes)))


# ---------------------------------------------------------------------------------------------
# 1. A base class's mistake costs nothing in the exercises built on it

PAIRS = sorted({(p, t) for t in lessons.current().tests_by_id for p in lessons.current().parents(t)
                if t in SMALL or lessons.current().tests_by_id[t].judge == "onecycle"})


def test_the_registry_knows_what_builds_on_what():
    assert lessons.current().parents("test_adam_small") == ("sgd",)
    assert lessons.current().parents("test_epoch_sched_cb") == ("base_sched_cb",)
    assert lessons.current().parents("test_batch_sched_cb_onecycle") == ("base_sched_cb", "recorder_cb")
    assert lessons.current().parents("test_has_learn_cb") == ()


@pytest.mark.parametrize("parent,test_id", PAIRS, ids=lambda x: str(x))
def test_a_parents_mistakes_cost_nothing_in_the_exercises_built_on_it(parent, test_id):
    """Student: the parent with each of its catalogued mistakes, the child written their own way."""
    child = lessons.current().tests_by_id[test_id].exercise
    sol = reference.solution_sources()
    children = [v[child] for v in CORRECT_VARIANTS.values() if child in v] or [sol[child]]
    for m, own_child in [(m, c) for m in mistakes.affecting(parent) for c in children]:
        student = {**mistakes.variant_sources(m, sol), child: own_child}
        scores = {t: verdict(student, t).score for t in exercise_tests(parent)}
        scores[test_id] = verdict(student, test_id).score
        assert min(scores[t] for t in exercise_tests(parent)) < 1, m.key  # charged in its own exercise
        if scores[test_id] < 1:
            assert test_id in isolation.to_retest(scores), m.key
            again = {**student, **{p: sol[p] for p in isolation.parents_of([test_id])}}
            assert verdict(again, test_id).score == 1.0, m.key


def test_a_parents_mistake_is_never_named_in_a_child():
    assert all(m.exercise == "momentum" for m in judge.candidate_mistakes("test_momentum_small"))


def test_the_second_run_shows_solutions_only_of_exercises_already_judged():
    canon = nbformat.read(reference.solutions_notebook(), as_version=4)
    nb = isolation.retest_notebook(canon, reference.solution_sources(), ["test_adam_small"])
    gids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    solution_of = [c.metadata.get("autograde", {}).get("solution_of") for c in nb.cells]
    assert [g for g in gids if g in lessons.current().tests_by_id] == ["test_adam_small"]
    assert [s for s in solution_of if s] == ["sgd"]
    assert solution_of.index("sgd") == gids.index("sgd") + 1  # right after the student's own SGD cell


def test_a_failed_parent_cell_is_left_out_of_the_second_run():
    canon = nbformat.read(reference.solutions_notebook(), as_version=4)
    sgd_cell = next(i for i, c in enumerate(canon.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "sgd")
    nb = isolation.retest_notebook(canon, reference.solution_sources(), ["test_momentum_small"], {sgd_cell})
    gids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert "sgd" not in gids and "momentum" in gids



def _crashing_momentum_run():
    """The canonical notebook with a Momentum answer that kills the kernel, and a run that says so."""
    from autograde.trusted.grade import load_setup
    from autograde.running.notebook import prepare
    from autograde.running.sandbox import RunResult
    setup = load_setup()
    canon = nbformat.reads(json.dumps(setup.canonical), as_version=4)
    lesson = nbformat.read(paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb", as_version=4)
    answers = {**reference.solution_sources(), "momentum": "import os; os._exit(1)"}
    for cell in lesson.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    prepared = prepare(lesson, canon)
    at = next(i for i, c in enumerate(prepared.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "momentum")
    return canon, prepared, RunResult(notebook=prepared, status="dead", message="", crashed_cells=[at])


def test_no_second_run_for_an_exercise_whose_own_cell_killed_the_kernel():
    from autograde.trusted.grade import _retest_futile
    canon, prepared, run = _crashing_momentum_run()
    lost = judge.Verdict("test_momentum_small", 0.0, "no result")
    assert _retest_futile("test_momentum_small", lost, run, prepared, canon)
    assert not _retest_futile("test_adam_small", judge.Verdict("test_adam_small", 0.5, "differs"), run, prepared, canon)

# ---------------------------------------------------------------------------------------------
# 2. Nothing for nothing: every hidden case fails for an exercise's trivial answers

_REGION = re.compile(r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION\n?", re.S | re.M)


def trivial_source(exercise: str, answer: str) -> str:
    """The exercise's cell with every solution region replaced by a trivial body."""
    nb = nbformat.read(reference.solutions_notebook(), as_version=4)
    src = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)

    def body(match):
        before = src[:match.start()]
        arg = re.findall(r"def \w+\(self, (\w+)", before)[-1]
        return match.group(1) + {"pass": "pass", "return": "return", "unchanged": f"return {arg}",
                                 "stub": "raise NotImplementedError()"}[answer] + "\n"
    return _REGION.sub(body, src + "\n")


@pytest.mark.parametrize("answer", ["pass", "return", "unchanged", "stub"])
@pytest.mark.parametrize("exercise", list(lessons.current().classes))
def test_trivial_answers_score_zero_on_every_small_case(exercise, answer):
    student = {**reference.solution_sources(), exercise: trivial_source(exercise, answer)}
    for test_id in exercise_tests(exercise):
        v = verdict(student, test_id)
        assert (v.score, bool(v.message)) == (0.0, True), (test_id, v.message)


@pytest.mark.parametrize("exercise", ["sgd", "momentum", "rmsprop", "adam", "batch_sched_cb"])
def test_a_do_nothing_answer_fails_the_training_runs(exercise):
    """pass, return and returning the parameter behave alike in a run; the stub raises."""
    student = {**reference.solution_sources(), exercise: trivial_source(exercise, "pass")}
    for test_id in [t for t in exercise_tests(exercise, small_only=False) if t not in SMALL]:
        assert verdict(student, test_id).score == 0.0, test_id


def test_decay_through_a_subclass_is_sgds_case_only():
    assert "decay through a subclass" in {c.name for c in optimizers.hidden_opt_cases("sgd")}
    for ex in ("momentum", "rmsprop", "adam"):
        assert "decay through a subclass" not in {c.name for c in optimizers.hidden_opt_cases(ex)}


# ---------------------------------------------------------------------------------------------
# 4. A diagnosis when the catalogue does not know the mistake

FIRST = "the very first step already differs"
LATER = "the first step is right"
WD = "only the cases with weight decay differ"
SCALES = "the error scales with the gradient's size"
NOT_SCALE = "does not simply scale with the gradient's size"
TINY = "with tiny gradients but not with large ones"
VALID = "during validation"
BEFORE = "before"
SECOND_FIT = "the second differs"

# Per catalogued mistake, what the sentence must name once its own entry is masked.
MUST_NAME = {
    "sgd_forgot_lr": [FIRST, SCALES], "sgd_wrong_sign": [FIRST, SCALES, "wrong direction"],
    "sgd_l2_not_decay": [WD], "sgd_decay_without_lr": [WD, FIRST], "sgd_no_decay": [WD, FIRST],
    "momentum_undampened": [FIRST, SCALES], "momentum_state_reset": [LATER],
    "momentum_weights_swapped": [FIRST, SCALES], "momentum_plain_grad": [FIRST, SCALES],
    "momentum_forgot_lr": [FIRST, SCALES],
    "rmsprop_zero_init": [FIRST, NOT_SCALE], "rmsprop_eps_inside": [FIRST, TINY],
    "rmsprop_no_sqrt": [FIRST, NOT_SCALE], "rmsprop_weights_swapped": [LATER],
    "rmsprop_forgot_lr": [FIRST, SCALES],
    "adam_eps_outside": [FIRST, TINY], "adam_no_bias_correction": [FIRST],
    "adam_bias_off_by_one": [FIRST, NOT_SCALE], "adam_betas_swapped": [FIRST, NOT_SCALE],
    "adam_counter_in_opt_step": [FIRST, NOT_SCALE], "adam_forgot_lr": [FIRST, SCALES],
    "sched_steps_in_validation": [VALID], "batch_sched_before_batch": [BEFORE],
    "batch_sched_per_epoch": ["once per training batch"], "epoch_sched_per_batch": ["once per training epoch"],
    "epoch_sched_before_epoch": [BEFORE], "has_learn_not_cleared": ["after the fit ends"],
    "recorder_not_reset": [SECOND_FIT, "kept the earlier fit's record"], "recorder_records_validation": [VALID],
}


def test_the_table_covers_the_whole_catalogue():
    assert set(MUST_NAME) == set(mistakes.BY_KEY)


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: m.key)
def test_a_masked_mistake_still_gets_a_diagnosis(mistake, monkeypatch):
    monkeypatch.setattr(judge, "candidate_mistakes", lambda test_id: [])
    sources = mistakes.variant_sources(mistake, reference.solution_sources())
    failed = [v for v in (verdict(sources, t) for t in exercise_tests(mistake.exercise)) if v.score < 1]
    assert failed
    for v in failed:
        assert v.mistake is None and ("What the cases show:" in v.message or "What the fits show:" in v.message)
        for words in MUST_NAME[mistake.key]:
            assert words in v.message, (v.test_id, words, v.message)


OUT_OF_CATALOGUE = {
    "adam_bias_first_moment_only": ("adam", "avg_hat = p.avg / (1 - self.beta1 ** (self.i + 1))", "avg_hat = p.avg"),
    "adam_grad_not_squared": ("adam", "(1 - self.beta2) * p.grad ** 2", "(1 - self.beta2) * p.grad.abs()"),
    "rmsprop_grad_not_squared": ("rmsprop", "p.grad ** 2 * (1 - self.sqr_mom)", "p.grad.abs() * (1 - self.sqr_mom)"),
}


@pytest.mark.parametrize("key", list(OUT_OF_CATALOGUE))
def test_mistakes_outside_the_catalogue_lose_points_with_a_sentence(key):
    exercise, old, new = OUT_OF_CATALOGUE[key]
    sol = reference.solution_sources()
    assert old in sol[exercise]
    v = verdict({**sol, exercise: sol[exercise].replace(old, new)}, f"test_{exercise}_small")
    assert v.score < 1 and "What the cases show:" in v.message
