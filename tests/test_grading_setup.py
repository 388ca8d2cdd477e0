"""A course's lesson, solutions and cache travel as arguments (grade.GradingSetup), never through the
environment: one process (a long-lived formgrader) grades two courses, each with its own."""
import os
import pickle
import shutil

import nbformat
import pytest

from autograde import classgrade, course as courses, doctor, nbgrader_engine
from autograde.running.notebook import nbgrader_meta
from autograde.running.sandbox import Limits
from autograde.trusted import mistakes, result_cache, solution as reference
from autograde.visible import lesson as lessons

NAMES = ("AUTOGRADE_LESSON", "AUTOGRADE_SOLUTIONS", "AUTOGRADE_CACHE")
MARK = "\nSGD.course = {name!r}\n"  # appended to the SGD solution: which course's solutions a class came from


def make_course(root, name):
    """A course folder (nbgrader's defaults) whose SGD solution says which course it is."""
    nb = nbformat.read(reference.SOLUTIONS_DIR / "accel_sgd" / "accel_sgd.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "sgd"]
    cell.source += MARK.format(name=name)
    folder = root / name
    (folder / "source" / "accel_sgd").mkdir(parents=True)
    nbformat.write(nb, folder / "source" / "accel_sgd" / "accel_sgd.ipynb")
    return courses.load(folder)


@pytest.fixture
def two_courses(tmp_path, monkeypatch):
    for name in NAMES:  # no person's override: each course's own
        monkeypatch.delenv(name, raising=False)
    return make_course(tmp_path, "first"), make_course(tmp_path, "second")


def setup_of(course):
    return classgrade.grading_setup(course, course.output(), course.submitted, Limits(), 1)


def test_each_course_gets_its_own_solutions_and_cache_in_one_process(two_courses):
    first, second = (setup_of(c) for c in two_courses)
    assert MARK.format(name="first") in first.solution_sources["sgd"]
    assert MARK.format(name="second") in second.solution_sources["sgd"]
    assert (first.cache, second.cache) == (str(two_courses[0].root / "grader" / "cache"),
                                           str(two_courses[1].root / "grader" / "cache"))
    assert (first.lesson, second.lesson) == ("accel_sgd", "accel_sgd")


def test_grading_a_course_leaves_nothing_in_the_environment(two_courses):
    before = dict(os.environ)
    setup_of(two_courses[0])
    assert dict(os.environ) == before


def test_the_nbgrader_engine_loads_each_course_with_its_own(two_courses):
    first, second = (nbgrader_engine.load_context(c) for c in two_courses)
    assert MARK.format(name="second") in second.setup.solution_sources["sgd"]
    assert MARK.format(name="first") not in second.setup.solution_sources["sgd"]
    assert second.cache.folder == two_courses[1].root / "grader" / "cache" / "results"


def test_a_setup_in_effect_is_what_the_trusted_modules_see_and_only_while_it_is(two_courses):
    setup = setup_of(two_courses[1])
    with setup.in_effect():
        assert reference.solution_sources() == setup.solution_sources
        assert result_cache.cache_dir() == two_courses[1].root / "grader" / "cache"
        assert lessons.current_name() == "accel_sgd"
    assert result_cache.cache_dir() != two_courses[1].root / "grader" / "cache"
    assert MARK.format(name="second") not in reference.solution_sources()["sgd"]


def test_the_judges_kept_classes_follow_the_setup_in_effect(two_courses):
    """The mistakes' classes are kept in the process: a second course must not get the first's."""
    first, second = (setup_of(c) for c in two_courses)
    for setup, name in ((first, "first"), (second, "second"), (first, "first")):
        with setup.in_effect():
            assert mistakes.variant_classes("momentum_undampened")["SGD"].course == name


def test_a_setup_travels_to_a_worker_whole(two_courses):
    setup = setup_of(two_courses[1])
    again = pickle.loads(pickle.dumps(setup))
    assert again == setup
    with again.in_effect():
        assert result_cache.cache_dir() == two_courses[1].root / "grader" / "cache"


def test_a_persons_override_is_read_from_the_environment(two_courses, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere.ipynb"
    shutil.copy(two_courses[0].solutions, other)
    monkeypatch.setenv("AUTOGRADE_SOLUTIONS", str(other))
    monkeypatch.setenv("AUTOGRADE_CACHE", str(tmp_path / "cache"))
    setup = setup_of(two_courses[1])
    assert MARK.format(name="first") in setup.solution_sources["sgd"]
    assert setup.cache == str(tmp_path / "cache")


def test_the_doctor_names_each_override_a_person_set():
    found = doctor.override_findings({"AUTOGRADE_CACHE": "/tmp/c", "PATH": "/usr/bin"})
    assert [(f.status, f.text, f.fix) for f in found] == [
        (doctor.WARN, "AUTOGRADE_CACHE=/tmp/c replaces every course's own cache folder",
         "unset AUTOGRADE_CACHE   # to grade each course with its own")]
    assert doctor.override_findings({}) == []
