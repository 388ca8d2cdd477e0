"""Preparing a submission for grading: the course's cells, the student's answers, nothing else.

A submitted notebook is untrusted: its metadata can be edited (a `skip-execution` tag on a test
cell, a flipped `grade` flag, a changed grade_id), test cells can be deleted or rewritten. So we
do not patch the submission; we rebuild it from the canonical autograde notebook (the solutions
notebook with solutions stubbed out but hidden tests kept, as nbgrader's gradebook holds it) and
take from the student only the sources of answer cells (matched by grade_id) plus any code cells
they added, which keep their place relative to the course's cells. Every cell gets the course's
metadata; added cells get none.
"""
from __future__ import annotations

import copy

import nbformat
from traitlets.config import Config

NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "schema_version", "solution", "task")


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata, {} when absent or malformed. The one reader of it everywhere: nbgrader's
    own `nbgrader.utils.is_solution` & co. assume well-formed metadata and raise AttributeError on a
    student's notebook whose `nbgrader` entry is, say, a string."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return meta if isinstance(meta, dict) else {}


def cell_source(cell) -> str:
    """A cell's text, whether the file stored it as one string or as a list of lines."""
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def canonical_notebook(solutions_nb) -> nbformat.NotebookNode:
    """The notebook the grader runs: solution regions stubbed (nbgrader's ClearSolutions), hidden tests kept."""
    from nbgrader.preprocessors import ClearOutput, ClearSolutions
    nb = copy.deepcopy(solutions_nb)
    resources = {"language": "python"}
    nb, _ = ClearSolutions(config=Config()).preprocess(nb, resources)
    nb, _ = ClearOutput(config=Config()).preprocess(nb, resources)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        cell.metadata = {"nbgrader": {k: meta[k] for k in NBGRADER_KEYS if k in meta}} if meta else {}
    return nb


def graded_cells(nb) -> list[dict]:
    """Every cell that carries points: test cells (autograded) and written answers (manual)."""
    out = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            out.append({"grade_id": meta["grade_id"], "points": float(meta.get("points", 0)),
                        "auto": not meta.get("solution", False), "cell_type": cell.cell_type})
    return out


def answer_ids(nb) -> set:
    return {nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c).get("solution")}


def read_submission(text: str) -> nbformat.NotebookNode:
    """Parse a submitted notebook; raises ValueError with a readable reason when it is not one."""
    if text.startswith("<unreadable: ") and text.endswith(">"):  # what submissions.read_text could not read
        raise ValueError(text[len("<unreadable: "):-1])
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises many kinds
        raise ValueError(f"the file is not a readable Jupyter notebook ({type(e).__name__}: {str(e)[:200]})") from e
    if not isinstance(nb.get("cells"), list):
        raise ValueError("the notebook has no list of cells")
    return nb


def _added_cell(source: str):
    """A code cell the student added; the marker is ours (the student's metadata is dropped)."""
    return nbformat.v4.new_code_cell(source, metadata={"autograde": {"added": True}})


def is_added(cell) -> bool:
    return bool(cell.get("metadata", {}).get("autograde", {}).get("added"))


def prepare(submission, canonical) -> nbformat.NotebookNode:
    """The canonical notebook with the student's answers (by grade_id) and added code cells."""
    answers = answer_ids(canonical)
    canon_sources = {c.source: i for i, c in enumerate(canonical.cells) if c.cell_type == "code"}
    taken: dict[str, str] = {}
    added: dict[int, list[str]] = {}
    anchor = -1
    canon_index = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(canonical.cells) if nbgrader_meta(c)}
    for cell in submission.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        source = cell_source(cell)
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is not None and gid in answers and gid not in taken:
            taken[gid] = source
            anchor = canon_index[gid]
        elif gid in canon_index:
            anchor = canon_index[gid]  # a course cell: the canonical version runs instead
        elif cell["cell_type"] == "code" and source in canon_sources:
            anchor = canon_sources[source]
        elif cell["cell_type"] == "code" and source.strip():
            added.setdefault(anchor, []).append(source)
    out = copy.deepcopy(canonical)
    cells = [_added_cell(s) for s in added.get(-1, [])]
    for i, cell in enumerate(out.cells):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in taken:
            cell.source = taken[gid]
        cells.append(cell)
        cells.extend(_added_cell(s) for s in added.get(i, []))
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i}"  # deterministic ids: grading the same submission twice gives the same notebook
    out.cells = cells
    return out


def opening(canonical) -> nbformat.NotebookNode:
    """The course's opening cells (those before the first answer cell) as `prepare` lays them out
    when no cell is added before them: what a kernel started ahead may run before the submission
    is known (inside/runner_opening.py). A submission that adds a cell among them starts a fresh kernel."""
    prepared = prepare(nbformat.v4.new_notebook(), canonical)
    answers = answer_ids(canonical)
    first = next((i for i, c in enumerate(prepared.cells) if nbgrader_meta(c).get("grade_id") in answers),
                 len(prepared.cells))
    prepared.cells = prepared.cells[:first]
    return prepared
