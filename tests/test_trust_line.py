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
