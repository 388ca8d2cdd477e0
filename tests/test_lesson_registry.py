"""Which lesson a process grades, and what its registry derives (issue 11)."""
from autograde import paths
from autograde.trusted import mistakes
from autograde.visible import lesson
lessons = lesson


def test_the_lesson_released_in_lessons_is_the_default(monkeypatch):
    monkeypatch.delenv("AUTOGRADE_LESSON", raising=False)
    assert (lesson.RELEASED_DIR / "accel_sgd" / "accel_sgd.ipynb").is_file()
    assert lesson.current_name() == paths.ASSIGNMENT == "accel_sgd"


def test_autograde_lesson_names_another(monkeypatch):
    monkeypatch.setenv("AUTOGRADE_LESSON", "ema")
    assert paths.ASSIGNMENT == "ema" and lessons.current().classes == {"ema": "EMA", "debiased_ema": "DebiasedEMA"}
    assert [m.key for m in mistakes.CATALOGUE] == ["ema_weights_swapped"]


def test_a_kernel_finds_the_lesson_by_test_id_or_exercise_without_being_told(monkeypatch):
    monkeypatch.delenv("AUTOGRADE_LESSON", raising=False)
    assert lesson.for_test("test_debiased_ema").name == "ema"
    assert lesson.for_exercise("momentum").name == "accel_sgd"


def test_builds_on_gives_the_hierarchy_the_catalogue_and_the_retest_use(monkeypatch):
    monkeypatch.delenv("AUTOGRADE_LESSON", raising=False)
    sgd = lesson.load("accel_sgd")
    assert sgd.ancestors("adam") == {"sgd"} and sgd.ancestors("sgd") == set()
    shown = {m.exercise for m in mistakes.shown_for("epoch_sched_cb")}
    assert shown == {"epoch_sched_cb", "base_sched_cb"}
