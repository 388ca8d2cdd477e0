"""The trust line is the layout: what a student's kernel or the kit may use never imports the trusted side.

visible/ (the kernel and the kit) and running/ (the kit's self-check) must work where trusted/ and
outputs/ do not exist. A function may still name them where only the instructor gets: the instructor
commands of cli.py, and probe() outside the grader (the instructor running the solutions notebook).
The kit and the sandbox tests (test_kit.py, test_sandbox_isolation.py) check the same from outside.
"""
import ast
from pathlib import Path

import pytest

from autograde import kit

PACKAGE = Path(__file__).resolve().parent.parent / "autograde"
STUDENT_SIDE = sorted(p for folder in kit.STUDENT_PACKAGES for p in (PACKAGE / folder).rglob("*.py"))
TRUSTED = ("autograde.trusted", "autograde.outputs")


def _imports(tree) -> list[tuple[str, ast.AST]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, node)] + [(f"{node.module}.{a.name}", node) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names]
    return found


KIT_MODULES = STUDENT_SIDE + [PACKAGE / f"{m}.py" for m in kit.ENTRY_MODULES]
INSTRUCTOR_ONLY = {"cli.py", "probe.py"}


@pytest.mark.parametrize("path", KIT_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_what_the_kit_ships_never_imports_the_trusted_side_on_import(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_level = [name for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.ClassDef))
                    for name, _ in _imports(ast.Module(body=[node], type_ignores=[]))]
    assert not [n for n in module_level if n.startswith(TRUSTED)]
    if path.name not in INSTRUCTOR_ONLY:
        assert not [n for n, _ in _imports(tree) if n.startswith(TRUSTED)]


def test_the_kit_ships_no_file_of_the_trusted_side():
    shipped = {p.relative_to(PACKAGE.parent).as_posix() for p in kit.student_files(PACKAGE)}
    assert shipped and not [p for p in shipped if p.startswith(("autograde/trusted/", "autograde/outputs/"))]


# --- One registry per lesson (issue 11): each lesson is two folders, one on each side of the line.

VISIBLE_LESSONS = PACKAGE / "visible" / "lessons"
TRUSTED_LESSONS = PACKAGE / "trusted" / "lessons"
LESSONS = sorted(p.parent.name for p in VISIBLE_LESSONS.glob("*/__init__.py"))


def test_every_lesson_has_a_visible_registry_and_a_trusted_half():
    from autograde.trusted import lessons as trusted
    from autograde.visible import lesson
    assert LESSONS == lesson.installed() and "accel_sgd" in LESSONS
    assert sorted(p.parent.name for p in TRUSTED_LESSONS.glob("*/__init__.py")) == LESSONS
    for name in LESSONS:
        registry, part = lesson.load(name), trusted.part(name)
        assert registry.name == name and registry.expected_path.is_file()
        assert {t.judge for t in registry.tests} <= set(part.JUDGES)
        assert {m.exercise for m in part.MISTAKES} <= set(registry.classes)
        assert all(set(e.builds_on) <= set(registry.classes) for e in registry.exercises)


def test_test_ids_and_exercises_are_unique_across_lessons():
    """A kernel sees no AUTOGRADE_LESSON: check() and probe() find the lesson by exercise or test id."""
    from autograde.visible import lesson
    ids = [i for name in LESSONS for les in [lesson.load(name)] for i in [*les.tests_by_id, *les.classes]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", LESSONS)
def test_the_kit_ships_its_lesson_folder_whole_and_no_other(name):
    shipped = {p.relative_to(PACKAGE) for p in kit.student_files(PACKAGE, lesson=name)}
    own = {p.relative_to(PACKAGE) for p in (VISIBLE_LESSONS / name).rglob("*")
           if p.is_file() and "__pycache__" not in p.parts}
    assert own and own <= shipped
    others = [p for p in shipped if p.is_relative_to("visible/lessons") and len(p.parts) > 3
              and p.parts[2] != name]
    assert not others


def test_the_grading_kernel_sees_every_lesson_registry_whole():
    from autograde.trusted.grade import _sandbox_views
    _, exposed = _sandbox_views()
    assert any(VISIBLE_LESSONS.is_relative_to(p) and p.is_dir() for p in exposed)


# The core reads the registry: it names no lesson's class, exercise, test or judge.
CORE = sorted([*(PACKAGE / "visible").glob("*.py"), *(PACKAGE / "trusted").glob("*.py"),
               *(PACKAGE / f"{m}.py" for m in ("paths", "selfcheck", "kit"))])


@pytest.mark.parametrize("path", CORE,
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_names_no_lesson(path):
    import re
    from autograde.visible import lesson
    text = path.read_text(encoding="utf-8")
    for name in LESSONS:
        les = lesson.load(name)
        words = {name, *les.tests_by_id, *les.classes, *les.classes.values()}
        found = sorted(n for n in words if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", text))
        found += sorted(t.judge for t in les.tests if re.search(rf"[\"']{re.escape(t.judge)}[\"']", text))
        assert not found, f"{path.name} names {found} of lesson {name}"
