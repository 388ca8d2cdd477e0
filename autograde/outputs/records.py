"""What grading one submission produces, as typed records: one SubmissionResult with a CellResult per
graded cell of the notebook.

The grader builds them (trusted/grade.py) and every output reads them (CSVs, gradebook, feedback
pages, report, the command's table). Where a result crosses a process boundary (a worker process, a
Dask worker) or is kept on disk (the result cache, grader/results/), it travels as plain JSON-able
data: `to_dict` and `from_dict`, so a worker never needs to unpickle grader classes.

Every output says a submission's points the same way (`totals`): each graded cell is in exactly one
of three parts. *Automatic*: a test's score as the grader gave it. *By hand*: a score a person entered
in the gradebook (a written answer, or an override of a test). *Pending*: a written answer nobody has
graded yet. The *total* is automatic plus by hand, out of every cell's points: what nbgrader's
gradebook (formgrader, `nbgrader export`) calls the submission's score. `auto_points`,
`points_with_written` and `written_points` are the older, coarser sums, kept for their callers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace


@dataclass
class CellResult:
    """One graded cell: an automatic test (auto) or a written answer graded by hand."""
    grade_id: str
    score: float | None  # None: a written answer no person has graded yet
    max_score: float
    message: str = ""
    auto: bool = True
    mistake: str | None = None  # a key of the mistake catalogue, when the judge recognised one
    details: dict = field(default_factory=dict)  # e.g. the loss curve of a training-run test
    by_hand: bool = False  # a person set this score in the gradebook
    auto_score: float | None = None  # the automatic score a person's score replaced
    to_review: bool = False  # a person's score the gradebook flags for them again (the answer changed)


@dataclass
class SubmissionResult:
    """One student's graded submission."""
    student_id: str
    assignment_id: str
    notebook_id: str
    status: str = "ok"  # ok, timeout, dead, error, unreadable
    message: str = ""  # what went wrong with the run as a whole ("" when it ran to the end)
    cells: list[CellResult] = field(default_factory=list)
    executed: dict | None = None  # the executed notebook (holds hidden tests: for the instructor only)
    timings: dict = field(default_factory=dict)
    sandboxed: bool | None = None
    timed_out_cells: list = field(default_factory=list)
    note: str = ""  # the one line a grade table shows for a zero score
    submission_note: str = ""  # which notebook was graded, when the student handed in several
    timestamp: str | None = None  # nbgrader's timestamp.txt
    submitted_folder: str = ""
    comments: dict[str, str] = field(default_factory=dict)  # instructor comments by cell name
    graded_at: str | None = None  # when this result was computed (ISO 8601, UTC)

    def to_dict(self) -> dict:
        """Plain data (JSON-able), for process boundaries and files."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cells"] = [{f.name: getattr(c, f.name) for f in fields(c)} for c in self.cells]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        """The record back from to_dict's data; keys it does not know (an older grader's) are left out."""
        known = {f.name for f in fields(cls)}
        cell_known = {f.name for f in fields(CellResult)}
        cells = [CellResult(**{k: v for k, v in c.items() if k in cell_known}) for c in data.get("cells", [])]
        return cls(**{**{k: v for k, v in data.items() if k in known}, "cells": cells})

    def auto_cells(self) -> list[CellResult]:
        return [c for c in self.cells if c.auto]

    def written_cells(self) -> list[CellResult]:
        return [c for c in self.cells if not c.auto]

    def with_hand_grading(self, scores: dict[str, float], comments: dict[str, str],
                          to_review=()) -> SubmissionResult:
        """The result as the gradebook now has it: a score a person entered (a written answer, or an
        override of a test) replaces the automatic one, and their comments join the page; to_review:
        the grade ids whose hand score the gradebook flags for a person again."""
        cells = [replace(c, score=scores[c.grade_id], by_hand=True, auto_score=c.score,
                         to_review=c.grade_id in to_review)
                 if c.grade_id in scores else c for c in self.cells]
        return replace(self, cells=cells, comments=dict(comments))


@dataclass(frozen=True)
class Points:
    score: float
    max: float


@dataclass(frozen=True)
class Totals:
    """A submission's points in the one vocabulary every output uses (see the module's docstring)."""
    automatic: float
    automatic_max: float
    by_hand: float
    by_hand_max: float
    pending: float  # the points of written answers nobody has graded yet
    total: float  # automatic + by_hand
    max: float  # every graded cell's points

    @property
    def graded_max(self) -> float:
        """The points graded so far (automatically or by hand): max less pending."""
        return round(self.automatic_max + self.by_hand_max, 4)


def graded_by(cell: CellResult) -> str:
    """"automatic", "by hand" or "pending": the part of the totals a cell counts in."""
    if cell.by_hand or (not cell.auto and cell.score is not None):
        return "by hand"
    return "automatic" if cell.auto and cell.score is not None else "pending"


def totals(result: SubmissionResult) -> Totals:
    parts: dict[str, list[CellResult]] = {"automatic": [], "by hand": [], "pending": []}
    for c in result.cells:
        parts[graded_by(c)].append(c)
    got = {k: round(sum(c.score or 0.0 for c in cells), 4) for k, cells in parts.items()}
    out_of = {k: round(sum(c.max_score for c in cells), 4) for k, cells in parts.items()}
    return Totals(got["automatic"], out_of["automatic"], got["by hand"], out_of["by hand"], out_of["pending"],
                  round(got["automatic"] + got["by hand"], 4), round(sum(out_of.values()), 4))


def auto_points(result: SubmissionResult) -> Points:
    """The automatic tests' cells, whoever scored them: scored, available (older sum; see totals)."""
    auto = result.auto_cells()
    return Points(round(sum(c.score or 0.0 for c in auto), 4), round(sum(c.max_score for c in auto), 4))


def points_with_written(result: SubmissionResult) -> Points:
    """Every graded cell's points: written answers count 0 until a person grades them."""
    return Points(round(sum(c.score or 0.0 for c in result.cells), 4),
                  round(sum(c.max_score for c in result.cells), 4))


@dataclass(frozen=True)
class WrittenPoints:
    """The hand-graded cells: what people graded so far, and what still waits for them."""
    graded_score: float
    graded_max: float
    pending: float
    max: float


def written_points(result: SubmissionResult) -> WrittenPoints:
    hand = result.written_cells()
    graded = [c for c in hand if c.score is not None]
    return WrittenPoints(round(sum(c.score or 0.0 for c in graded), 4), round(sum(c.max_score for c in graded), 4),
                         round(sum(c.max_score for c in hand if c.score is None), 4),
                         round(sum(c.max_score for c in hand), 4))
