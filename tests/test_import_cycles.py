"""No import cycle among the project's modules, imports inside functions included (issue 19).

A lazy import that reaches back into the module that imported it works until someone moves a
line; the graph here is read from the source (ast), so it sees every import wherever it stands.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograde import paths

PACKAGES = ("autograde", "miniai")


def _module_name(path: Path) -> str:
    parts = path.relative_to(paths.REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((paths.REPO_ROOT / pkg).rglob("*.py"))}


def _resolve(name: str, known: dict) -> str | None:
    """The project module an imported name lands in (a.b.c may be a module or a name in a.b)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for t in targets:
                dep = _resolve(t, known)
                # a package's __init__ that a submodule imports through is not a cycle of their own making
                if dep and dep != name and not name.startswith(dep + "."):
                    deps.add(dep)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == "open":
            found.append(path[path.index(m):] + [m])
            return
        if state.get(m) == "done":
            return
        state[m] = "open"
        for n in sorted(graph.get(m, ())):
            visit(n, path + [m])
        state[m] = "done"
    for m in sorted(graph):
        visit(m, [])
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "autograde.trusted.judge" in graph["autograde.trusted.grade"]  # imported inside _judged


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package):
    graph = {m: deps for m, deps in import_graph().items() if m.startswith(package)}
    assert cycles(graph) == []
