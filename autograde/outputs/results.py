"""Writing a graded class: grades.csv and cells.csv (the grader's folder), the executed notebooks
(nbgrader's autograded/), and each student's latest result (what `autograde feedback` rebuilds
the pages from once people have graded in formgrader)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

GRADES_COLUMNS = ["student_id", "assignment_id", "score", "max_score"]
CELLS_COLUMNS = ["student_id", "assignment_id", "notebook_id", "grade_id", "score", "max_score", "message"]


def total(result: dict) -> tuple[float, float]:
    """(points scored so far, points available): hand-graded cells count as 0 until graded."""
    score = sum(c["score"] or 0.0 for c in result["cells"])
    return round(score, 4), round(sum(c["max_score"] for c in result["cells"]), 4)


def write_csvs(results: list[dict], out: Path) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(GRADES_COLUMNS)
        for r in results:
            w.writerow([r["student_id"], r["assignment_id"], *total(r)])
    with open(out / "cells.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CELLS_COLUMNS)
        for r in results:
            for c in r["cells"]:
                w.writerow([r["student_id"], r["assignment_id"], r["notebook_id"], c["grade_id"],
                            "" if c["score"] is None else c["score"], c["max_score"], c["message"]])


def write_executed(results: list[dict], autograded: Path) -> None:
    """nbgrader's autograded/{student}/{assignment}/{notebook}.ipynb, for the instructor (it holds the
    hidden tests: never hand it out)."""
    from autograde.outputs.feedback import safe_part
    for r in results:
        if r.get("executed"):
            path = Path(autograded, safe_part(r["student_id"]), safe_part(r["assignment_id"]),
                        safe_part(r["notebook_id"]) + ".ipynb")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r["executed"], indent=1))


def save_latest(results: list[dict], folder: Path) -> None:
    """folder/{student}.json: each student's latest result, whole."""
    from autograde.outputs.feedback import safe_part
    Path(folder).mkdir(parents=True, exist_ok=True)
    for r in results:
        (Path(folder) / f"{safe_part(r['student_id'])}.json").write_text(json.dumps(r))


def load_latest(folder: Path) -> list[dict]:
    """The results save_latest wrote, by student id."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda r: r["student_id"])
