"""The nbgrader gradebook in OUT: built by nbgrader itself, scores written by the grader alone.

`nbgrader generate_assignment` records the assignment's cells (as it does for any course); the
parent process then adds each student's submission and writes the judge's scores into nbgrader's
Grade rows, and the named mistakes as auto-comments on the student's answer cells, so nbgrader's
own tools (export, formgrader) read the results.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from . import cases
from .release import generate_lesson


def create(db_path: Path, release_dir: Path, assignment: str) -> str:
    """A gradebook holding the assignment's structure; returns its URL."""
    generate_lesson(release_dir, assignment, db_path=db_path)
    import nbgrader.api  # noqa: F401  (imported here, off the critical path, for record())
    return f"sqlite:///{Path(db_path).resolve()}"


def record(db_url: str, results: list[dict]) -> None:
    """Write every submission's automatic scores and comments. What a human entered in formgrader
    (written answers' scores, overrides, manual comments) survives grading again, as in nbgrader."""
    from nbgrader.api import Gradebook, MissingEntry  # lazily: grading starts without waiting for it
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy models warn about their own relationships
        for r in results:
            student, assignment, notebook = r["student_id"], r["assignment_id"], r["notebook_id"]
            gb.update_or_create_student(student)
            gb.update_or_create_submission(assignment, student)
            comments: dict[str, list[str]] = {}
            for cell in r["cells"]:
                grade = gb.find_grade(cell["grade_id"], notebook, assignment, student)
                grade.auto_score = cell["score"] if cell["auto"] else None
                # nbgrader's rule: a person looks at written answers and at scores they overrode
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                spec = cases.TESTS.get(cell["grade_id"])
                if cell["auto"] and cell["message"] and spec:
                    comments.setdefault(spec.exercise, []).append(f"{cell['grade_id']}: {cell['message']}")
            for exercise in cases.EXERCISES:
                try:
                    comment = gb.find_comment(exercise, notebook, assignment, student)
                except MissingEntry:
                    continue
                comment.auto_comment = "\n".join(comments.get(exercise, [])) or None
            gb.db.commit()
