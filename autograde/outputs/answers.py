"""What the student wrote, read from the executed notebook: each answer cell's text by grade_id, the
code cells they added, and which of those an exercise's code uses (its helpers).

The page shows an exercise's helpers under "Your code", since the class alone does not say what it
calls; the gradebook compares a digest of each answer (with its helpers) between two gradings, to
tell a hand grade that still stands from one whose answer changed under it. Only answer cells and
added cells are read: test cells hold hidden tests. Names are found with `ast`, after IPython turns
magics (`%timeit`, `!ls`) into Python; a cell that still does not parse defines and uses nothing.
"""
from __future__ import annotations

import ast
import hashlib

from autograde.running.notebook import cell_source, is_added, nbgrader_meta
from autograde.visible import lesson as lessons


def _cells(executed) -> list:
    return list(executed.get("cells", [])) if isinstance(executed, dict) else []


def answer_sources(executed) -> dict[str, str]:
    """grade_id -> the student's answer cell text. Only solution cells: test cells hold hidden tests."""
    out: dict[str, str] = {}
    for cell in _cells(executed):
        meta = nbgrader_meta(cell)
        if meta.get("solution") and meta.get("grade_id") and meta["grade_id"] not in out:
            out[meta["grade_id"]] = cell_source(cell)
    return out


def added_sources(executed) -> list[str]:
    """The code cells the student added (running/notebook.py prepare marks them), in notebook order."""
    return [cell_source(c) for c in _cells(executed) if c.get("cell_type") == "code" and is_added(c)]


def _tree(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, TypeError):
        return None


class _Defined(ast.NodeVisitor):
    """Names a cell binds at its top level: functions, classes, assignments, imports, loop targets.
    Function and class bodies are not entered (their locals are not the cell's)."""

    def __init__(self):
        self.names: set[str] = set()

    def visit_FunctionDef(self, node):
        self.names.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        pass

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_alias(self, node):
        self.names.add((node.asname or node.name).split(".")[0])


def defined_names(source: str) -> set[str]:
    tree = _tree(source)
    if tree is None:
        return set()
    visitor = _Defined()
    visitor.visit(tree)
    return visitor.names


def used_names(source: str) -> set[str]:
    """Every name the code reads, at any depth (a method body calling a helper counts)."""
    tree = _tree(source)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def helper_sources(executed, grade_id: str) -> list[str]:
    """The added cells the answer cell grade_id uses, directly or through another helper, in notebook
    order. A name the answer defines itself is its own, not a helper's."""
    answer = answer_sources(executed).get(grade_id)
    if answer is None:
        return []
    added = [(src, defined_names(src)) for src in added_sources(executed)]
    own = defined_names(answer)
    wanted, chosen = used_names(answer) - own, set()
    while True:
        more = {i for i, (_, names) in enumerate(added) if i not in chosen and names & wanted}
        if not more:
            break
        chosen |= more
        for i in more:
            wanted |= used_names(added[i][0]) - own
    return [src for i, (src, _) in enumerate(added) if i in chosen]


def answered_by(grade_id: str) -> str:
    """The answer cell a graded cell grades: a test grades its exercise's code, a written answer itself."""
    spec = lessons.current().tests_by_id.get(grade_id)
    return spec.exercise if spec else grade_id


def digests(executed, grade_ids) -> dict[str, str]:
    """grade_id -> a SHA-256 of the answer it grades, with that answer's helpers; grade ids whose answer
    is not in the notebook are left out (nothing to compare)."""
    answers = answer_sources(executed)
    by_answer: dict[str, str] = {}
    found: dict[str, str] = {}
    for gid in grade_ids:
        key = answered_by(gid)
        if key not in answers:
            continue
        if key not in by_answer:
            h = hashlib.sha256(answers[key].encode("utf-8", "surrogatepass"))
            for src in helper_sources(executed, key):
                h.update(b"\0" + src.encode("utf-8", "surrogatepass"))
            by_answer[key] = h.hexdigest()
        found[gid] = by_answer[key]
    return found
