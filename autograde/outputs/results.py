"""Writing a graded class: grades.csv and cells.csv (the grader's folder), the executed notebooks
(nbgrader's autograded/), and each student's latest result (what `autograde feedback` rebuilds
the pages from once people have graded in formgrader).

The CSVs say points as every output does (records.totals): automatic, by hand, pending, total.
`total` and `max_score` are the numbers `nbgrader export` gives as raw_score and max_score, as long as
the results carry the gradebook's hand scores (classgrade writes them so)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograde.outputs.records import SubmissionResult, graded_by, totals
from autograde.visible.atomic import make_dirs, write_atomic

GRADES_COLUMNS = ["student_id", "assignment_id", "automatic", "automatic_max", "by_hand", "by_hand_max",
                  "pending", "total", "max_score", "timestamp", "graded_at"]
CELLS_COLUMNS = ["student_id", "assignment_id", "notebook_id", "grade_id", "graded_by", "score", "max_score",
                 "auto_score", "message"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def write_csvs(results: list[SubmissionResult], out: Path) -> None:
    """grades.csv: each student's points, automatic, by hand, pending and total, with when the notebook
    was submitted (timestamp.txt) and graded; cells.csv: every graded cell, who scored it (automatic,
    by hand, pending) and, for an override, the automatic score it replaced."""
    make_dirs(out)
    grades = [[r.student_id, r.assignment_id, t.automatic, t.automatic_max, t.by_hand, t.by_hand_max, t.pending,
               t.total, t.max, r.timestamp or "", r.graded_at or ""] for r in results for t in [totals(r)]]
    cells = [[r.student_id, r.assignment_id, r.notebook_id, c.grade_id, graded_by(c), _blank(c.score), c.max_score,
              _blank(c.auto_score if c.by_hand else c.score if c.auto else None), c.message]
             for r in results for c in r.cells]
    write_atomic(out / "grades.csv", _csv(GRADES_COLUMNS, grades))
    write_atomic(out / "cells.csv", _csv(CELLS_COLUMNS, cells))


def _blank(x):
    return "" if x is None else x


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
            make_dirs(path.parent)
            write_atomic(path, json.dumps(sanitise_notebook(r.executed), indent=1))


def save_latest(results: list[SubmissionResult], folder: Path) -> None:
    """folder/{student}.json: each student's latest result, whole."""
    from autograde.outputs.feedback import safe_part
    make_dirs(folder)
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
