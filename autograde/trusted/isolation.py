"""Each exercise judged on its own: a slip in a base class is charged in the base class only.

A lesson's classes build on one another (a subclass inherits a method of an earlier exercise's
class; a test may also run a helper class of another exercise). Which exercise builds on which lives
in one place, the lesson registry's `builds_on` (and Lesson.parents(test)); nothing here names a
lesson's classes.

How: the notebook is first run as handed in. When a test lost points *and* an exercise it builds on
lost points in its own tests, the grader runs the notebook a second time in which each such parent
exercise's answer cell is followed by the solution's version of that class, and only the tests to
redo remain. The student's own cells all still run (helpers, their parent cell too, unless it
failed), so answers written in an unusual way keep working; the test then gets the better of its
two scores: over the student's own parents or over the solution's.

What a kernel can see, and why that is acceptable:
- The first run holds no solution code at all (hidden test cells only call the probe), and every
  score of a parent exercise comes from that first run.
- The second run holds the solution versions of the parents of the retested exercises only, and only
  those exercises' tests are taken from it: a kernel that reads them (in its notebook, history or
  memory) learns answers whose points were already decided, and nothing about the exercises still
  being judged. The solution of an exercise never reaches a kernel whose results count for that
  exercise.
- Submissions whose parents passed (most of a class) never get a second run, so they pay nothing.
"""
from __future__ import annotations

import copy

from autograde.visible import lesson as lessons
from autograde.trusted.solution import strip_solution_markers
from autograde.running.notebook import grade_id

NOTE = ("Graded over the course's {parents}, because your {parents} lost points in {its} own tests: "
        "a mistake there counts only there.")


def to_retest(scores: dict) -> list[str]:
    """The tests that lost points while an exercise they build on also lost points (test -> score 0..1)."""
    lesson = lessons.current()
    lost = {lesson.tests_by_id[t].exercise for t, s in scores.items() if s < 1}
    return [t for t, s in scores.items() if s < 1 and lost & set(lesson.parents(t))]


def parents_of(tests) -> list[str]:
    lesson = lessons.current()
    return list(lesson.in_order({p for t in tests for p in lesson.parents(t)}))


def retest_notebook(prepared: dict, solution_sources: dict, tests, failed_cells=()) -> dict:
    """The prepared notebook with the solution's parent classes after the student's parent cells,
    and only `tests` among the hidden test cells. `failed_cells`: indices of cells that failed in the
    first run; a failed parent cell is left out (it would fail again, or stop the kernel)."""
    import nbformat
    parents = set(parents_of(tests))
    nb = copy.deepcopy(prepared)
    cells = []
    for i, cell in enumerate(nb["cells"]):
        gid = grade_id(cell)
        if gid in lessons.current().tests_by_id and gid not in tests:
            continue
        if gid in parents:
            if i not in failed_cells:
                cells.append(cell)
            solution = nbformat.v4.new_code_cell(strip_solution_markers(solution_sources[gid]),
                                                 metadata={"autograde": {"solution_of": gid}})
            cells.append(solution)
            continue
        cells.append(cell)
    for i, c in enumerate(cells):
        c["id"] = f"retest-{i}"
    nb["cells"] = cells
    return nb


def note(test_id: str, lost) -> str:
    """What the feedback says when a test's better score came from the second run."""
    lesson = lessons.current()
    names = [lesson.classes[e] for e in lesson.parents(test_id) if e in lost]
    return NOTE.format(parents=" and ".join(names), its="its" if len(names) == 1 else "their")
