"""Writing a graded class to OUT: grades.csv, cells.csv and the executed notebooks."""
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


def write_executed(results: list[dict], out: Path) -> None:
    """nbgrader's autograded/ layout, for the instructor (it holds the hidden tests: never hand it out)."""
    for r in results:
        if r.get("executed"):
            path = out / "autograded" / r["student_id"] / r["assignment_id"] / f"{r['notebook_id']}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r["executed"], indent=1))
