"""The page each student gets back: what every hidden test checked, what it found, and their own code.

Only three things reach the page: the test descriptions from lessons.current().tests_by_id, the judge's scores and
messages, and the student's own cells (answer cells, and the cells they added that an exercise's code
uses: outputs/answers.py). Test cells are never read, so hidden test source cannot leak. The page
opens with an overview (each exercise's points and status, linked to its section), the points in
the words every output uses (records.totals: automatic, by hand, pending, total), and when the
notebook was submitted (nbgrader's timestamp.txt, when there is one) and graded. Everything that
came from a submission (code, messages, ids) is escaped by the template (templates/feedback.html),
because a submission may contain markup meant to run in the reader's browser.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from autograde.visible import lesson as lessons
from autograde.trusted import mistakes
from autograde.outputs import figures
from autograde.outputs.pages import render
from autograde.outputs.answers import answer_sources, helper_sources
from autograde.outputs.records import CellResult, SubmissionResult, totals
from autograde.submissions import id_problem, shown
from autograde.visible.atomic import make_dirs, write_atomic

STATES = {  # state -> (symbol, word)
    "pass": ("\u2713", "passed"),
    "partial": ("\u25D0", "partly"),
    "fail": ("\u2717", "not yet"),
    "pending": ("\u270E", "by hand"),
}
OVERVIEW_STATES = {**STATES, "pending": ("\u270E", "pending, graded by hand"),
                   "hand": ("\u270E", "graded by hand")}

STATUS_HEADLINES = {
    "timeout": "Your notebook reached the time limit",
    "dead": "The Python kernel stopped while running your notebook",
    "error": "The grader could not finish running your notebook",
    "unreadable": "Your notebook could not be read",
}

def cell_state(cell: CellResult) -> str:
    if cell.score is None:
        return "pending"
    if cell.score >= cell.max_score - 1e-9:
        return "pass"
    return "partial" if cell.score > 0 else "fail"


def section_of(grade_id: str) -> str:
    """Tests group under their exercise; a written answer is a section of its own."""
    spec = lessons.current().tests_by_id.get(grade_id)
    return spec.exercise if spec else grade_id


def sections(result: SubmissionResult) -> list[tuple[str, list[CellResult]]]:
    """(section, its cells) in lesson order.

    The result's cells follow the notebook, so ordering sections by their first cell gives the
    lesson order, with written answers where the lesson asks them; a test placed later in the
    notebook (accel_sgd's 1cycle run) joins its exercise's section that appeared earlier."""
    groups: dict[str, list[CellResult]] = {}
    for c in result.cells:
        groups.setdefault(section_of(c.grade_id), []).append(c)
    return list(groups.items())


def when(text: str | None) -> str | None:
    """A date as the page shows it: "2026-11-30 09:15 UTC", read as nbgrader reads timestamp.txt (a
    time without a zone is UTC); text that is not a date is shown as it is, cut at 64 characters."""
    if not text:
        return None
    from nbgrader.utils import parse_utc
    try:
        moment = parse_utc(str(text))
    except (ValueError, OverflowError):
        return str(text)[:64]
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Figure:
    uri: str  # a PNG data URI
    alt: str
    caption: str


@dataclass
class TestView:
    """One test as the page shows it."""
    cell: CellResult
    state: str
    what: str
    mistake: str = ""  # the recognised mistake's name
    message: str = ""
    did_not_run: bool = False  # its message is the run's own, said once at the top
    figure: Figure | None = None

    @property
    def symbol(self) -> str:
        return STATES[self.state][0]

    @property
    def word(self) -> str:
        return STATES[self.state][1]


@dataclass
class Section:
    """An exercise (its tests and the student's code), a written answer, or tests the course does not
    describe (kind "other")."""
    kind: str
    key: str
    cells: list[CellResult]
    title: str = ""
    number: int = 0
    tests: list[TestView] = field(default_factory=list)
    answer: str | None = None  # the student's code or written text
    comment: str | None = None  # from the instructor
    helpers: list[str] = field(default_factory=list)  # cells the student added that the code uses

    @property
    def got(self) -> float:
        return sum(c.score or 0.0 for c in self.cells)

    @property
    def available(self) -> float:
        return sum(c.max_score for c in self.cells)

    @property
    def full(self) -> bool:
        return all(cell_state(c) == "pass" for c in self.cells)

    @property
    def state(self) -> str:
        """The section as a whole, for the overview: a written answer is pending until graded by hand."""
        if self.kind == "written":
            return "pending" if self.cells[0].score is None else "hand"
        if self.full:
            return "pass"
        return "partial" if self.got > 0 else "fail"

    @property
    def heading(self) -> str:
        if self.kind == "exercise":
            return f"Exercise {self.number}: {self.title}"
        return self.title or "Other tests"


def _accuracy_line(acc: dict) -> str:
    def pct(v):
        v = figures.number(v)
        return f"{100 * v:.1f}%" if math.isfinite(v) else "not available"
    return f"Final accuracy: yours {pct(acc.get('yours'))}, solution {pct(acc.get('solution'))}."


def _curve(details: dict) -> Figure | None:
    curve = (details or {}).get("curve")
    if not isinstance(curve, dict):
        return None
    acc = details.get("accuracy")
    cap = [_accuracy_line(acc)] if isinstance(acc, dict) else []
    yours = [figures.number(v) for v in curve.get("yours") or []]
    missing = sum(math.isnan(v) for v in yours)
    if missing:
        cap.append(f"Your loss was not a number at {missing} of {len(yours)} batches; those are left out.")
    return Figure(figures.loss_curve(curve), "your training loss and the solution's, per batch", " ".join(cap))


def _test_view(cell: CellResult, run_message: str) -> TestView:
    spec = lessons.current().tests_by_id.get(cell.grade_id)
    what = spec.what if spec else cell.grade_id
    view = TestView(cell, cell_state(cell), what[:1].upper() + what[1:], message=cell.message or "")
    m = mistakes.BY_KEY.get(cell.mistake or "")
    if m:
        view.mistake = m.name
        view.message = view.message.removeprefix(f"Looks like: {m.name}. ")
    view.did_not_run = bool(run_message) and view.message == run_message
    view.figure = _curve(cell.details or {})
    return view


def _sections(result: SubmissionResult, comments: dict[str, str]) -> list[Section]:
    run_message = result.message or ""
    answers = answer_sources(result.executed)
    found, number = [], 0
    for key, cells in sections(result):
        if key in lessons.current().classes:
            number += 1
            found.append(Section("exercise", key, cells, lessons.current().classes[key], number,
                                 [_test_view(c, run_message) for c in cells], answers.get(key),
                                 comments.pop(key, None), helper_sources(result.executed, key)))
        elif all(not c.auto for c in cells):
            text = (answers.get(key) or "").strip()
            found.append(Section("written", key, cells, lessons.current().written.get(key, f"Written answer ({key})"),
                                 answer=text or None, comment=comments.pop(key, None)))
        else:  # a test the course does not describe: still show its score and message
            found.append(Section("other", key, cells, tests=[_test_view(c, run_message) for c in cells]))
    return found


def render_feedback(result: SubmissionResult) -> str:
    """The student's feedback page, as one self-contained HTML document."""
    comments = dict(result.comments or {})
    found = _sections(result, comments)  # takes the comments that belong to a section
    status = result.status or "ok"
    notice = None  # the headline of a note about the run as a whole
    if status != "ok" or result.message:
        notice = STATUS_HEADLINES.get(status, "A note about this run")
    return render("feedback.html", title=f"Feedback: {result.assignment_id} ({result.student_id})",
                  r=result, notice=notice, t=totals(result), sections=found, states=STATES,
                  overview_states=OVERVIEW_STATES, submitted=when(result.timestamp), graded=when(result.graded_at),
                  loose_comments=[text for _, text in sorted(comments.items())],  # on cells without a section
                  have_notebook=isinstance(result.executed, dict))


def safe_part(name: str) -> str:
    """A path component from a student, assignment or notebook id: never a way out of the feedback
    folder, nor a name the file system refuses. The rule is submissions.id_problem, the one a student
    folder's name passes before it is graded; an id that fails it here came from elsewhere (a result
    file edited by hand)."""
    name = str(name)
    problem = id_problem(name)
    if problem:
        raise ValueError(f"unsafe id for a file name: {shown(name)}: {problem}")
    return name


def feedback_relpath(result: SubmissionResult) -> Path:
    """Where nbgrader looks for feedback: feedback/{student}/{assignment}/{notebook}.html."""
    return Path("feedback", safe_part(result.student_id), safe_part(result.assignment_id),
                safe_part(result.notebook_id) + ".html")


def write_feedback(result: SubmissionResult, out_dir: Path, feedback_dir: Path | None = None) -> Path:
    """Into out_dir/feedback/ (nbgrader's default), or the course's configured feedback_dir."""
    rel = feedback_relpath(result)
    path = Path(feedback_dir).joinpath(*rel.parts[1:]) if feedback_dir else Path(out_dir) / rel
    make_dirs(path.parent)
    write_atomic(path, render_feedback(result))
    return path
