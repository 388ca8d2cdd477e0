"""The nbgrader gradebook: built by nbgrader itself, automatic scores written by the grader alone,
and read back for what instructors entered in formgrader.

`nbgrader generate_assignment` records the assignment's cells (as it does for any course); the
parent process then adds each student's submission, with the timestamp nbgrader's submit wrote
(formgrader calls a submission autograded only when the two agree; late penalties need it), writes
the judge's scores into nbgrader's Grade rows and the named mistakes as auto-comments on the
student's answer cells. Hand scores, overrides and manual comments are nbgrader's own fields:
grading again never touches them, and the feedback pages show them (`hand_grading`).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.trusted.release import generate_lesson
from autograde.outputs.records import SubmissionResult


@dataclass
class HandGrading:
    """What a person entered for one submission: scores by grade_id, comments by cell name."""
    scores: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)


@contextmanager
def _open(db_url: str, course_id: str = ""):
    from nbgrader.api import Gradebook  # lazily: grading starts without waiting for it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy models warn about their own relationships
        with (Gradebook(db_url, course_id) if course_id else Gradebook(db_url)) as gb:
            yield gb


def has_assignment(db_url: str, assignment: str, notebook: str, course_id: str = "") -> bool:
    from nbgrader.api import MissingEntry
    try:
        with _open(db_url, course_id) as gb:
            return len(gb.find_notebook(notebook, assignment).grade_cells) > 0
    except (MissingEntry, Exception):  # no database yet, or one nbgrader cannot open: build it
        return False


def create(db_url: str, assignment: str | None = None, course_root: Path = paths.REPO_ROOT,
           notebook: str | None = None, course_id: str = "") -> str:
    """A gradebook holding the assignment's structure (nbgrader's generate_assignment records it,
    unless it is there already, e.g. after `autograde release`); returns db_url. The assignment and
    notebook default to the current lesson's name, read at the call (the CLI may choose the lesson late)."""
    assignment = assignment or paths.ASSIGNMENT
    notebook = notebook or assignment
    if not has_assignment(db_url, assignment, notebook, course_id):
        generate_lesson(None, assignment, db_url=db_url, course_root=course_root)
    return db_url


def record(db_url: str, results: list[SubmissionResult], timestamps: dict[str, str | None] | None = None,
           course_id: str = "") -> None:
    """Write every submission's timestamp, automatic scores and comments. What a human entered in
    formgrader (written answers' scores, overrides, manual comments) survives grading again."""
    from nbgrader.api import MissingEntry
    from nbgrader.utils import parse_utc
    timestamps = timestamps or {}
    with _open(db_url, course_id) as gb:
        for r in results:
            student, assignment, notebook = r.student_id, r.assignment_id, r.notebook_id
            gb.update_or_create_student(student)
            stamp = timestamps.get(student)
            try:
                when = parse_utc(stamp) if stamp else None
            except ValueError:
                when = None  # a garbled timestamp.txt: graded all the same, as if none
            gb.update_or_create_submission(assignment, student, timestamp=when)
            comments: dict[str, list[str]] = {}
            for cell in r.cells:
                grade = gb.find_grade(cell.grade_id, notebook, assignment, student)
                grade.auto_score = cell.score if cell.auto else None
                # nbgrader's rule: a person looks at written answers and at scores they overrode
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                spec = lessons.current().tests_by_id.get(cell.grade_id)
                if cell.auto and cell.message and spec:
                    comments.setdefault(spec.exercise, []).append(f"{cell.grade_id}: {cell.message}")
            for exercise in lessons.current().classes:
                try:
                    comment = gb.find_comment(exercise, notebook, assignment, student)
                except MissingEntry:
                    continue
                comment.auto_comment = "\n".join(comments.get(exercise, [])) or None
            gb.db.commit()


def hand_grading(db_url: str, results: list[SubmissionResult], course_id: str = "") -> dict[str, HandGrading]:
    """student_id -> the scores and comments people entered (formgrader, or any Gradebook client)."""
    from nbgrader.api import MissingEntry
    found: dict[str, HandGrading] = {}
    with _open(db_url, course_id) as gb:
        for r in results:
            try:
                nb = gb.find_submission_notebook(r.notebook_id, r.assignment_id, r.student_id)
            except MissingEntry:
                continue
            hand = HandGrading()
            for g in nb.grades:
                if g.manual_score is not None:
                    hand.scores[g.name] = float(g.manual_score)
            for c in nb.comments:
                if c.manual_comment and c.manual_comment.strip():
                    hand.comments[c.name] = c.manual_comment.strip()
            found[r.student_id] = hand
    return found
