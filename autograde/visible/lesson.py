"""One registry per lesson: its exercises, its tests and its visible checks, kept beside the lesson.

A lesson is a package autograde/visible/lessons/<name>/ whose __init__ defines LESSON (a Lesson):
which exercises it has (the nbgrader grade_id of the answer cell, the class it asks for, the
exercises it builds on), which hidden tests grade them (the driver that turns the classes into
plain data, and the name of the judge that scores it), and each exercise's public check. Its
trusted half (mistake catalogue, judges) is autograde/trusted/lessons/<name>/, which the kernel
and the kit never see. Nothing in the core names a lesson's classes or tests: it reads this.

Which lesson: the grader names it for what it runs (`chosen(name)`: a course's lesson, for as long as
that course is graded; it never writes an environment variable, so one process can grade two courses).
Else AUTOGRADE_LESSON, a person's choice; unset, the one lesson released into the repository's
lessons/ folder (lessons/<name>/<name>.ipynb; the kit ships that folder too); else the only lesson
installed. Inside a student's kernel, where none of these is visible, the checks and the probe find the
lesson by the exercise or test id they are given (ids are unique across lessons).
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

LESSONS_DIR = Path(__file__).with_name("lessons")
RELEASED_DIR = Path(__file__).resolve().parent.parent.parent / "lessons"
ENV = "AUTOGRADE_LESSON"
_chosen: ContextVar[str | None] = ContextVar("autograde_lesson", default=None)


@dataclass(frozen=True)
class Exercise:
    """One answer cell: its grade_id, the class it defines, the exercises that class builds on.
    `public(cls)` is its visible check's driver (public inputs, no training runs); `judged_alone`
    (optional) says, when a parent fails, whether the class's own code agrees (checks.py)."""
    grade_id: str
    cls: str
    public: Callable
    builds_on: tuple = ()
    judged_alone: Callable | None = None


@dataclass(frozen=True)
class Test:
    """One hidden test cell: the exercise it grades, the classes it runs, `driver(*classes)` -> data,
    the judge (a name in the lesson's trusted JUDGES), and what it measures. `costly`: a training
    run, whose reference data is kept on disk and whose mistakes are not replayed."""
    test_id: str
    exercise: str
    classes: tuple
    driver: Callable
    judge: str
    what: str
    costly: bool = False


@dataclass(frozen=True)
class Lesson:
    """A lesson's facts. `exercise_imports`: what the exercise cells need from the lesson's setup cell;
    `describe(got, want)`: a visible check's difference in the lesson's words (None: wording.describe);
    `written`: the titles of the written answers (graded by hand) for the feedback pages."""
    name: str
    exercises: tuple
    tests: tuple
    exercise_imports: str = ""
    describe: Callable | None = field(default=None, compare=False)
    written: dict = field(default_factory=dict, compare=False)  # written answer's grade_id -> its title

    @cached_property
    def classes(self) -> dict:
        """grade_id -> class name, in lesson order."""
        return {e.grade_id: e.cls for e in self.exercises}

    @cached_property
    def tests_by_id(self) -> dict:
        return {t.test_id: t for t in self.tests}

    @cached_property
    def builds_on(self) -> dict:
        return {e.grade_id: e.builds_on for e in self.exercises if e.builds_on}

    def exercise(self, grade_id: str) -> Exercise:
        return next(e for e in self.exercises if e.grade_id == grade_id)

    def exercise_of(self, class_name: str) -> str:
        return next(e.grade_id for e in self.exercises if e.cls == class_name)

    def ancestors(self, grade_id: str) -> set:
        """Every exercise this one builds on, directly or through another."""
        found, todo = set(), list(self.exercise(grade_id).builds_on)
        while todo:
            e = todo.pop()
            if e not in found:
                found.add(e)
                todo += self.exercise(e).builds_on
        return found

    def in_order(self, names) -> tuple:
        names = set(names)
        return tuple(e.grade_id for e in self.exercises if e.grade_id in names)

    def parents(self, test_id: str) -> tuple:
        """The exercises, other than its own, whose classes a test runs (bases and helpers), in lesson order."""
        test = self.tests_by_id[test_id]
        found = self.ancestors(test.exercise)
        for name in test.classes:
            ex = self.exercise_of(name)
            if ex != test.exercise:
                found |= {ex, *self.ancestors(ex)}
        return self.in_order(found)

    def collect(self, test_id: str, *classes) -> dict:
        """The data one test cell produces from the classes it is given (student's or solution's)."""
        return self.tests_by_id[test_id].driver(*classes)

    def public_data(self, grade_id: str, cls) -> dict:
        """The data the visible check compares: public inputs only."""
        return self.exercise(grade_id).public(cls)

    @property
    def folder(self) -> Path:
        return LESSONS_DIR / self.name

    @property
    def expected_path(self) -> Path:
        """The visible checks' expected results, written at release."""
        return self.folder / "expected.json"

    def sources(self) -> list[str]:
        """The text of the lesson's visible modules (drivers): reference data depends on them."""
        return [p.read_text() for p in sorted(self.folder.glob("*.py"))]


@lru_cache(maxsize=None)
def installed() -> list[str]:
    """The lessons this installation holds (folders under visible/lessons/ with an __init__.py)."""
    return sorted(p.parent.name for p in LESSONS_DIR.glob("*/__init__.py"))


@lru_cache(maxsize=None)
def load(name: str) -> Lesson:
    if name not in installed():
        raise LookupError(f"no lesson {name!r} (installed: {', '.join(installed()) or 'none'})")
    return importlib.import_module(f"autograde.visible.lessons.{name}").LESSON


@contextmanager
def chosen(name: str) -> Iterator[Lesson]:
    """Within this block (this thread or task, and what it starts with its context), the lesson is
    `name`: how the grader says which course's lesson it grades."""
    found = load(name)
    token = _chosen.set(name)
    try:
        yield found
    finally:
        _chosen.reset(token)


def default_name() -> str:
    """The lesson when the grader names none: AUTOGRADE_LESSON, else the one lesson released in
    lessons/, else the one installed."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    released = [n for n in installed() if (RELEASED_DIR / n / f"{n}.ipynb").is_file()]
    candidates = released if len(released) == 1 else installed()
    if len(candidates) != 1:
        raise LookupError(f"which lesson? set {ENV} to one of: {', '.join(installed())}")
    return candidates[0]


def current_name() -> str:
    """The lesson chosen for what runs now (`chosen`), else the default one."""
    return _chosen.get() or default_name()


def current() -> Lesson:
    return load(current_name())


def _owning(what: str, has) -> Lesson:
    """The lesson that defines this exercise or test: the current one first, then any installed."""
    names = [n for n in (_chosen.get(), os.environ.get(ENV)) if n]
    for name in [*names, *installed()]:
        found = load(name)
        if has(found):
            return found
    raise LookupError(f"no installed lesson has {what}")


def for_test(test_id: str) -> Lesson:
    return _owning(f"a test {test_id!r}", lambda les: test_id in les.tests_by_id)


def for_exercise(grade_id: str) -> Lesson:
    return _owning(f"an exercise {grade_id!r}", lambda les: grade_id in les.classes)
