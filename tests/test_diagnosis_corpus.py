"""Mistakes the catalogue does not know get the hint that fits them, first, and no hint that points
elsewhere (issue 20 item 3).

Like tests/test_fair_grades.py, classes are built from the solution sources with one exercise's text
edited (tests/uncatalogued.py), driven by the same drivers the probe runs in the student's kernel,
and judged in this process: no kernel.
"""
import pytest

from autograde.trusted import judge, mistakes, solution as reference
from autograde.visible import lesson as lessons
from uncatalogued import CONTRADICTIONS, CORPUS

LESSON = lessons.current()
# The drivers' keys and the data's own wording, which a student never reads (the self-check's words are used).
INTERNAL = ("fit1", "fit2", "lrs", "created", "during[", "after is", "time(s)", "'missing'")


def small_tests(exercise):
    return [t for t, s in LESSON.tests_by_id.items() if s.exercise == exercise and not s.costly]


def edited(entry) -> dict:
    sources = reference.solution_sources()
    source = sources[entry.exercise]
    for old, new in entry.edits:
        assert old in source, (entry.name, old)
        source = source.replace(old, new)
    return {**sources, entry.exercise: source}


def verdicts(sources: dict, exercise: str) -> list:
    classes = reference.solution_classes(sources)
    return [judge.judge(t, LESSON.collect(t, *(classes[c] for c in LESSON.tests_by_id[t].classes)))
            for t in small_tests(exercise)]


def first_hint(message: str) -> str:
    """The first hint of the diagnosis ("What the cases show: A; B." or "What the fits show: ...")."""
    assert " show: " in message, message
    return message.split(" show: ", 1)[1].split("; ")[0]


def test_the_corpus_covers_every_exercise_and_stays_out_of_the_catalogue():
    assert {u.exercise for u in CORPUS} == set(LESSON.classes)
    assert len(CORPUS) >= 15 and len({u.name for u in CORPUS}) == len(CORPUS)
    assert not {u.name for u in CORPUS} & set(mistakes.BY_KEY)


@pytest.mark.parametrize("entry", CORPUS, ids=lambda u: u.name)
def test_an_uncatalogued_mistake_gets_its_hint_first_and_none_that_points_elsewhere(entry):
    failed = [v for v in verdicts(edited(entry), entry.exercise) if v.score < 1]
    assert failed, f"{entry.name} passes every small test of {entry.exercise}"
    for v in failed:
        assert v.mistake is None, (v.test_id, v.mistake)  # the catalogue does not know it
        assert entry.expect[0] in first_hint(v.message), (v.test_id, v.message)
        for words in entry.expect[1:]:
            assert words in v.message, (v.test_id, words, v.message)
        for words in (*entry.forbid, *INTERNAL):
            assert words not in v.message, (v.test_id, words, v.message)


@pytest.mark.parametrize("entry", CORPUS, ids=lambda u: u.name)
def test_no_two_hints_contradict_each_other_outside_the_catalogue(entry):
    for v in verdicts(edited(entry), entry.exercise):
        assert not [pair for pair in CONTRADICTIONS if all(p in v.message for p in pair)], v.message


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: m.key)
def test_no_two_hints_contradict_each_other_for_a_masked_catalogued_mistake(mistake, monkeypatch):
    monkeypatch.setattr(judge, "candidate_mistakes", lambda test_id: [])
    for v in verdicts(mistakes.variant_sources(mistake, reference.solution_sources()), mistake.exercise):
        assert not [pair for pair in CONTRADICTIONS if all(p in v.message for p in pair)], v.message


def test_the_issue_s_adam_counts_its_steps_once_per_parameter():
    """Issue 20's Adam with `self.t += 1` in opt_step: seen only with two parameters, not sent to the decay."""
    entry = next(u for u in CORPUS if u.name == "adam_own_counter_per_parameter")
    (v,) = [v for v in verdicts(edited(entry), "adam") if v.score < 1]
    assert v.message.startswith(
        "What the cases show: only with two parameters, and in its first step the first parameter is right while "
        "the second is not: something is shared between the parameters, or counted once per parameter instead of "
        "once per step (every case with one parameter is right). 1 of 6 cases differ;")


def test_the_issue_s_scheduler_that_is_not_rebuilt_for_a_second_fit():
    entry = next(u for u in CORPUS if u.name == "base_sched_not_rebuilt")
    (v,) = [v for v in verdicts(edited(entry), "base_sched_cb") if v.score < 1]
    assert v.message.startswith("In the second fit (the same learner, fitted again), the scheduler was not built "
                                "(expected once, at the start of the fit, on the learner's optimizer learn.opt).")
    assert first_hint(v.message).startswith("the scheduler was not built again for the second fit")
