"""A notebook whose opening cells run before the rest of it arrives: a kernel started ahead.

The grader starts the next submission's kernel while it grades the current one, and has it run
the course's *opening cells* (imports and data: the same for every student, taken from the
solutions notebook). When the submission's notebook arrives, its first cells must be those opening
cells, unchanged; the kernel then goes on from the cell after them. No student's code has run in
that kernel before its own notebook arrives.

Standard library and nbformat only: loaded by path by kernel_runner.py, inside the sandbox.
"""
from __future__ import annotations

import nbformat


class OpeningMismatch(Exception):
    """The notebook that arrived does not begin with the opening cells this kernel already ran."""


def identity(cell) -> tuple:
    """What must match for a cell already run to stand for the notebook's own (not its outputs)."""
    return cell.get("cell_type"), cell.get("id"), cell.get("source")


def begins_with(cells, opening) -> bool:
    """Whether `cells` are the `opening` cells (by identity) followed by at least one more."""
    n = len(opening)
    return len(cells) > n and [identity(c) for c in cells[:n]] == [identity(c) for c in opening]


class ArrivingCells(list):
    """The opening cells; when iteration reaches their end, the rest of the notebook is read
    (one JSON line from `stream`) and iteration goes on into it. nbclient walks nb.cells once,
    top to bottom, so it runs the opening cells, then waits here for the notebook."""

    def __init__(self, opening_cells, stream):
        super().__init__(opening_cells)
        self._stream = stream

    def __iter__(self):
        i = 0
        while True:
            if i == len(self) and self._stream is not None:
                self._arrive()
            if i >= len(self):
                return
            yield self[i]
            i += 1

    def _arrive(self) -> None:
        stream, self._stream = self._stream, None
        line = stream.readline()
        if not line:
            raise OpeningMismatch("the grader closed the pipe before sending the notebook")
        full = nbformat.reads(line, as_version=4)
        if not begins_with(full.cells, self):
            raise OpeningMismatch(f"the notebook does not begin with the {len(self)} cells this kernel ran")
        self.extend(full.cells[len(self):])


def read_notebook(stream):
    """`--opening` mode: a notebook of the opening cells is the first line; its cells grow into the
    whole notebook as it arrives (see ArrivingCells)."""
    nb = nbformat.reads(stream.readline(), as_version=4)
    nb.cells = ArrivingCells(nb.cells, stream)
    return nb
