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

What a kernel can see, and what comes back from it:
- The first run holds no solution code at all (hidden test cells only call the probe), and every
  score of a parent exercise comes from that first run.
- The second run holds the solution versions of the parents of the retested exercises, and only
  those exercises' tests are taken from it. Student code runs beside the course's code there, so
  anything that code chooses is a channel out: an exception's text, what it prints, the values it
  records, the names of files. From that run the grader takes a *score* and the *key* of a catalogued
  mistake, nothing else (`retest_verdict`): every word of the feedback comes from the student's own
  first run or from the catalogue. Scores are data the judge computed; a student who fails cases on
  purpose to spell something out pays for each bit with points.
- The course's classes enter that kernel as compiled code with the docstrings stripped, under a
  file name no source exists for (`hidden_source`): not in the cell history (`In`), not in
  `inspect.getsource`. That only raises the bar; the bytecode is still there, which is why the rule
  above, not this, is what keeps the solution in.
- Submissions whose parents passed (most of a class) never get a second run, so they pay nothing.
"""
from __future__ import annotations

import base64
import copy
import marshal

from autograde.visible import lesson as lessons
from autograde.trusted import mistakes
from autograde.trusted.judge import Verdict
from autograde.trusted.solution import strip_solution_markers
from autograde.running.notebook import grade_id

COMPILED_AS = "<the course's version>"  # a file name with no source behind it: inspect finds nothing
STILL_DIFFERS = "Over the course's {parents} it still differs from the solution."
OWN_RUN = "In your own run: {message}"

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
            solution = nbformat.v4.new_code_cell(hidden_source(strip_solution_markers(solution_sources[gid])),
                                                 metadata={"autograde": {"solution_of": gid}})
            cells.append(solution)
            continue
        cells.append(cell)
    for i, c in enumerate(cells):
        c["id"] = f"retest-{i}"
    nb["cells"] = cells
    return nb


def hidden_source(source: str) -> str:
    """One line of code that defines what `source` defines without carrying its text: the code
    compiled here (docstrings stripped) and marshalled. The kernel runs the same interpreter."""
    code = compile(source, COMPILED_AS, "exec", optimize=2, dont_inherit=True)
    blob = base64.b64encode(marshal.dumps(code)).decode("ascii")
    return f"exec(__import__('marshal').loads(__import__('base64').b64decode('{blob}')))"


def _parent_names(test_id: str, lost) -> list[str]:
    lesson = lessons.current()
    return [lesson.classes[e] for e in lesson.parents(test_id) if e in lost]


def note(test_id: str, lost) -> str:
    """What the feedback says when a test's better score came from the second run."""
    names = _parent_names(test_id, lost)
    return NOTE.format(parents=" and ".join(names), its="its" if len(names) == 1 else "their")


def retest_verdict(first: Verdict, again: Verdict, lost) -> Verdict:
    """The verdict kept when the second run scored better: its score and its catalogued mistake's
    key, with words only from the catalogue and from the student's own first run. The second run's
    message and details are dropped whole: student code wrote them beside the course's code."""
    parts = [note(first.test_id, lost)]
    mistake = mistakes.by_key().get(again.mistake) if again.mistake else None
    if again.score < 1:
        parts.append(STILL_DIFFERS.format(parents=" and ".join(_parent_names(first.test_id, lost))))
        if mistake is not None:
            parts.append(f"Looks like: {mistake.name}. {mistake.hint}")
        if first.message:
            parts.append(OWN_RUN.format(message=first.message))
    details = {k: v for k, v in first.details.items() if k != "no_result"} if again.score < 1 else {}
    return Verdict(first.test_id, again.score, " ".join(parts), mistake.key if mistake else None, details)
