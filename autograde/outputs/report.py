"""The instructor's overview of a graded class: how it did, where it struggled, what to re-teach.

Pass rates count students with full marks, so a test most students half-pass still stands out;
mistakes count students (not test cells), so one misunderstanding that fails two tests of the same
exercise is counted once per student. Submissions that did not run cleanly are listed, because
their low scores say nothing about the material; so are the folders that were not graded at all
(a link, a name that cannot be a student id), and the notebooks that more than one student handed
in (identical.py): a hint to look at, not a verdict. Each student's points are said as on every
other output (records.totals: automatic, by hand, pending, total), from the gradebook as it was when
the report was written; the grade distribution is of the automatic points, which every submission
has from the start. Hand scores that grading again flagged for a person (the answer changed under
them) are listed with why. The page itself is templates/report.html.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from autograde.visible import lesson as lessons
from autograde.trusted import mistakes
from autograde.outputs import figures
from autograde.outputs.feedback import cell_state, feedback_relpath
from autograde.outputs.pages import render
from autograde.outputs.records import SubmissionResult, Totals, totals
from autograde.visible.atomic import make_dirs, write_atomic


@dataclass
class Rate:
    """How many of n students got full marks on something, and their mean score of its max points."""
    n: int = 0
    full: int = 0
    total: float = 0.0
    max: float = 0.0

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def fraction(self) -> float:
        return self.full / self.n if self.n else 0.0


@dataclass
class StudentRow:
    """One submission in the report's tables, with the link to its feedback page."""
    result: SubmissionResult
    points: Totals
    href: str


def share(count: int, of: int) -> str:
    """'2 / 5 (40%)'."""
    return f"{count} / {of} ({100 * count / of:.0f}%)" if of else "\u2013"


def per_test_stats(results: list[SubmissionResult]) -> dict[str, Rate]:
    """grade_id -> its Rate: autograded cells only, in notebook order."""
    stats: dict[str, Rate] = {}
    for r in results:
        for c in r.auto_cells():
            s = stats.setdefault(c.grade_id, Rate(max=c.max_score))
            s.n += 1
            s.full += cell_state(c) == "pass"
            s.total += c.score or 0.0
    return stats


def per_exercise_stats(results: list[SubmissionResult]) -> dict[str, Rate]:
    """exercise -> its Rate: full means every test of the exercise at full marks."""
    stats: dict[str, Rate] = {}
    for r in results:
        per: dict[str, list] = {}
        for c in r.auto_cells():
            spec = lessons.current().tests_by_id.get(c.grade_id)
            if spec:
                per.setdefault(spec.exercise, []).append(c)
        for ex, cells in per.items():
            s = stats.setdefault(ex, Rate(max=sum(c.max_score for c in cells)))
            s.n += 1
            s.full += all(cell_state(c) == "pass" for c in cells)
            s.total += sum(c.score or 0.0 for c in cells)
    order = list(lessons.current().classes)
    return {ex: stats[ex] for ex in sorted(stats, key=lambda e: order.index(e) if e in order else len(order))}


def mistake_counts(results: list[SubmissionResult]) -> list[tuple[str, int, list[str]]]:
    """(mistake key, number of students, tests that flagged it), most common first."""
    students: dict[str, set] = {}
    tests: dict[str, list[str]] = {}
    for r in results:
        for c in r.cells:
            if c.mistake:
                students.setdefault(c.mistake, set()).add(r.student_id)
                if c.grade_id not in tests.setdefault(c.mistake, []):
                    tests[c.mistake].append(c.grade_id)
    rank = {m.key: i for i, m in enumerate(mistakes.CATALOGUE)}
    keys = sorted(students, key=lambda k: (-len(students[k]), rank.get(k, len(rank)), k))
    return [(k, len(students[k]), tests[k]) for k in keys]


def render_report(results: list[SubmissionResult], link_prefix: str = "", skipped=(), identical=(),
                  flagged=()) -> str:
    """The instructor's report for one assignment, as a self-contained HTML document; skipped: the
    submissions.Skipped folders, identical: the identical.Group of students who handed in the same,
    flagged: the gradebook.Flagged hand scores that grading again sent back to a person."""
    rows = [StudentRow(r, totals(r), link_prefix + feedback_relpath(r).as_posix()) for r in results]
    scores = [row.points.automatic for row in rows]
    max_points = max((row.points.automatic_max for row in rows), default=0.0)
    return render(
        "report.html", title=f"Grading report: {results[0].assignment_id if results else ''}",
        assignment_id=results[0].assignment_id if results else "", n=len(results),
        mean=statistics.fmean(scores) if scores else 0.0, median=statistics.median(scores) if scores else 0.0,
        max_points=max_points, pending=sum(1 for r in results for c in r.written_cells() if c.score is None),
        unsandboxed=[r for r in results if r.sandboxed is False],
        histogram=figures.histogram(scores, max_points) if results else None,
        exercises=per_exercise_stats(results), exercise_classes=lessons.current().classes,
        tests=per_test_stats(results), test_specs=lessons.current().tests_by_id, mistakes=mistake_counts(results),
        catalogue=mistakes.BY_KEY, share=share, quote=quote,
        troubled=[row for row in rows if (row.result.status or "ok") != "ok" or row.result.message],
        skipped=list(skipped), identical=list(identical), flagged=list(flagged),
        links={row.result.student_id: row for row in rows},
        students=sorted(rows, key=lambda row: str(row.result.student_id)))


def write_report(results: list[SubmissionResult], out_dir: Path, link_prefix: str = "", skipped=(),
                 identical=(), flagged=()) -> Path:
    """out_dir/report.html; link_prefix leads from there to the folder that holds feedback/."""
    path = Path(out_dir) / "report.html"
    make_dirs(path.parent)
    write_atomic(path, render_report(results, link_prefix, skipped, identical, flagged))
    return path
