"""The nbgrader gradebook: built by nbgrader itself, automatic scores written by the grader alone,
and read back for what instructors entered in formgrader.

`nbgrader generate_assignment` records the assignment's cells (as it does for any course); the
parent process then adds each student's submission, with the timestamp nbgrader's submit wrote
(formgrader calls a submission autograded only when the two agree; late penalties need it), writes
the judge's scores into nbgrader's Grade rows and the named mistakes as auto-comments on the
student's answer cells. Hand scores, overrides and manual comments are nbgrader's own fields:
grading again never touches them, and the feedback pages show them (`hand_grading`).

Whether a hand score still needs a person (`needs_manual_grade`, what formgrader lists) is decided
by what it was given for. nbgrader's own autograde flags every hand score again on each run, so a
regrade that changed nothing sent the instructor back to every written answer. Here a hand score
stays as the person left it while the answer it grades is the same as at the last grading (a
digest of the answer cell and the added cells it uses, outputs/answers.py) and, for an override of
a test, the test's automatic score is the same too; otherwise it is flagged again, and `record`
returns which, with why, for the log and the report.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.trusted.release import generate_lesson
from autograde.outputs import answers
from autograde.outputs.records import SubmissionResult
from autograde.access import staff_only


@dataclass
class HandGrading:
    """What a person entered for one submission: scores by grade_id, comments by cell name, and the
    grade ids whose hand score is flagged for a person to look at again."""
    scores: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    to_review: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Flagged:
    """A hand score that grading again flagged for a person (needs_manual_grade), and why."""
    student_id: str
    grade_id: str
    why: str

    def __str__(self) -> str:
        return f"{self.student_id}: {self.grade_id} flagged for grading by hand again: {self.why}"


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
    except (MissingEntry, Exception):  # noqa: BLE001 - no database yet, or one nbgrader cannot open: build it
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
    staff_only(db_url)
    return db_url


def record(db_url: str, results: list[SubmissionResult], timestamps: dict[str, str | None] | None = None,
           course_id: str = "", previous: list[SubmissionResult] | None = None) -> list[Flagged]:
    """Write every submission's timestamp, automatic scores and comments. What a human entered in
    formgrader (written answers' scores, overrides, manual comments) survives grading again.

    previous: each student's result from the last grading into this gradebook (grader/results/), to
    tell whether the answer under a hand score changed. A hand score whose student has no previous
    result is flagged, as nbgrader's own autograde does. Returns the hand scores flagged here that a
    person had cleared."""
    from nbgrader.api import MissingEntry
    from nbgrader.utils import parse_utc
    timestamps = timestamps or {}
    before = {p.student_id: p for p in previous or []}
    flagged: list[Flagged] = []
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
            ids = [c.grade_id for c in r.cells]
            now = answers.digests(r.executed, ids)
            last = before.get(student)
            then = answers.digests(last.executed, ids) if last else {}
            last_auto = {c.grade_id: c.score for c in last.cells if c.auto} if last else {}
            comments: dict[str, list[str]] = {}
            for cell in r.cells:
                grade = gb.find_grade(cell.grade_id, notebook, assignment, student)
                grade.auto_score = cell.score if cell.auto else None
                if grade.manual_score is None:  # nbgrader's rule: a written answer waits for a person
                    grade.needs_manual_grade = grade.auto_score is None
                else:
                    why = _changed(cell, last, now, then, last_auto)
                    if why:
                        if not grade.needs_manual_grade:
                            flagged.append(Flagged(student, cell.grade_id, why))
                        grade.needs_manual_grade = True
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
    return flagged


def _changed(cell, last: SubmissionResult | None, now: dict, then: dict, last_auto: dict) -> str:
    """Why a hand score on this cell needs a person again ("" when it still stands)."""
    gid = cell.grade_id
    if last is None:
        return "no earlier grading to compare the answer with"
    if gid not in now or gid not in then:
        return "the answer it grades could not be compared with the last grading"
    if now[gid] != then[gid]:
        what = "the written answer" if not cell.auto else f"the code of {answers.answered_by(gid)}"
        return f"{what} changed since the last grading"
    if cell.auto and last_auto.get(gid) != cell.score:
        return f"the automatic score changed ({_num(last_auto.get(gid))} -> {_num(cell.score)})"
    return ""


def _num(x) -> str:
    return "none" if x is None else f"{float(x):g}"


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
                    if g.needs_manual_grade:
                        hand.to_review.add(g.name)
            for c in nb.comments:
                if c.manual_comment and c.manual_comment.strip():
                    hand.comments[c.name] = c.manual_comment.strip()
            found[r.student_id] = hand
    return found
