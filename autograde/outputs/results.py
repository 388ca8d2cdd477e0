"""Writing a graded class: grades.csv and cells.csv (the grader's folder), the executed notebooks
(nbgrader's autograded/), and each student's latest result (what `autograde feedback` rebuilds
the pages from once people have graded in formgrader)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograde.outputs.records import SubmissionResult, points_with_written
from autograde.visible.atomic import write_atomic

GRADES_COLUMNS = ["student_id", "assignment_id", "score", "max_score"]
CELLS_COLUMNS = ["student_id", "assignment_id", "notebook_id", "grade_id", "score", "max_score", "message"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def write_csvs(results: list[SubmissionResult], out: Path) -> None:
    """grades.csv: each student's points with the written answers (0 until graded by hand);
    cells.csv: every graded cell."""
    Path(out).mkdir(parents=True, exist_ok=True)
    grades = [[r.student_id, r.assignment_id, p.score, p.max] for r in results for p in [points_with_written(r)]]
    cells = [[r.student_id, r.assignment_id, r.notebook_id, c.grade_id, "" if c.score is None else c.score,
              c.max_score, c.message] for r in results for c in r.cells]
    write_atomic(out / "grades.csv", _csv(GRADES_COLUMNS, grades))
    write_atomic(out / "cells.csv", _csv(CELLS_COLUMNS, cells))


def _csv(columns, rows) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(columns)
    w.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buf.getvalue()


def spreadsheet_safe(value):
    """A text cell that a spreadsheet would run as a formula (a student id "=2+5", a message quoting
    student code) gets a leading single quote, as OWASP's "CSV Injection" advises; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_executed(results: list[SubmissionResult], autograded: Path) -> None:
    """nbgrader's autograded/{student}/{assignment}/{notebook}.ipynb, for the instructor (it holds the
    hidden tests: never hand it out), with active content stripped from what the student wrote or
    printed (sanitise.py): the instructor renders it in formgrader or Jupyter."""
    from autograde.outputs.feedback import safe_part
    from autograde.outputs.sanitise import sanitise_notebook
    for r in results:
        if r.executed:
            path = Path(autograded, safe_part(r.student_id), safe_part(r.assignment_id),
                        safe_part(r.notebook_id) + ".ipynb")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(sanitise_notebook(r.executed), indent=1))


def save_latest(results: list[SubmissionResult], folder: Path) -> None:
    """folder/{student}.json: each student's latest result, whole."""
    from autograde.outputs.feedback import safe_part
    Path(folder).mkdir(parents=True, exist_ok=True)
    for r in results:
        write_atomic(Path(folder) / f"{safe_part(r.student_id)}.json", json.dumps(r.to_dict()))


def load_latest(folder: Path) -> list[SubmissionResult]:
    """The results save_latest wrote, by student id."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            found.append(SubmissionResult.from_dict(json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):  # unreadable, or not a result
            continue
    return sorted(found, key=lambda r: r.student_id)
