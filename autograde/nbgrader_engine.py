"""nbgrader's own commands, graded by this course's engine, so a grade never depends on which command ran.

Stock `nbgrader autograde` (and formgrader's Autograde button) runs the hidden tests inside the
student's kernel, unsandboxed, and scores a test cell all or nothing; stock `generate_feedback`
renders the executed notebook, hidden test cells included. nbgrader lets a course replace both
pipelines from its nbgrader_config.py, and the course's config puts these classes there:

- `GradeSubmission` (`Autograde.sanitize_preprocessors`) grades the submitted file with
  trusted/grade.grade_submission, the course loaded as `autograde grade` loads it: the submission
  rebuilt from the course's cells, the sandboxed data-only kernel, the trusted judge, partial
  credit. A result either command kept is reused (trusted/result_cache.py, the same folder). It
  hands nbgrader the executed notebook, sanitised as autograded/ always is, with each test cell's
  score as its first output, a numeric execute_result (nbgrader's determine_grade reads that as the
  cell's partial credit).
- `RecordVerdicts` (`Autograde.autograde_preprocessors`) writes scores and named mistakes into the
  gradebook with outputs/gradebook.record, the very function `autograde grade` uses: the same
  auto_score, needs_manual_grade and comments, whichever command ran. It saves the result, the CSVs
  and the report in grader/, so that `autograde feedback` works after a formgrader autograde.
  (nbgrader's SaveAutoGrades is left out: it would also set "No response." comments on written
  answers, which the engine does not; AssignLatePenalties too, as `autograde grade` applies none.)
- `FeedbackPage` (`GenerateFeedback.exporter_class`, with no preprocessors) writes the student's page
  of outputs/feedback.py from the saved result and the gradebook's hand scores and comments: the page
  `autograde grade` and `autograde feedback` write. It never reads the notebook, so no hidden test
  cell reaches a page.

Grading here is serial (nbgrader converts one notebook at a time); `autograde grade` runs the same
engine in parallel, on Dask or on GPUs. Instructor side only: the kit never ships this module.
"""
from __future__ import annotations

import copy
import json
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbconvert.exporters import Exporter
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import default

from autograde import paths, submissions
from autograde.course import CourseFolder, Output
from autograde.outputs.records import SubmissionResult

if TYPE_CHECKING:  # imported where used, so that nbgrader loads this module quickly
    from autograde.running.gpus import Slot
    from autograde.trusted.grade import GradingSetup
    from autograde.trusted.result_cache import ResultCache

RESULTS_DIR = "results"  # OUT/grader/results/{student}.json: each student's latest result (outputs/results.py)


class EngineError(Exception):
    """A submission this engine will not grade (nbgrader logs it and grades the others)."""


@dataclass
class Context:
    """One nbgrader command's course, loaded once: what `autograde grade` loads before it grades."""
    course: CourseFolder
    output: Output
    setup: GradingSetup  # what grading this course takes: its lesson, solutions and cache among them
    cache: ResultCache
    slot: Slot          # where this process's kernels run
    results: dict = field(default_factory=dict)  # graded in this command, not yet recorded


_contexts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # converter -> Context
_pinned: list = []  # this process's GPU plan, decided once (CUDA reads its variable once)
_lock = threading.Lock()


def course_of(coursedir) -> CourseFolder:
    """The course as nbgrader's CourseDirectory has it (config file, command line or formgrader)."""
    names = ("source_directory", "release_directory", "submitted_directory", "autograded_directory",
             "feedback_directory", "course_id", "db_url")
    root = Path(coursedir.root).resolve()
    config = root / "nbgrader_config.py"
    return CourseFolder(root, config if config.is_file() else None,
                        {n: str(getattr(coursedir, n) or "") for n in names})


def _converter_of(pp):
    """The nbgrader converter a preprocessor or exporter belongs to (it holds the CourseDirectory)."""
    node = pp
    while node is not None:
        if getattr(node, "coursedir", None) is not None:
            return node
        node = getattr(node, "parent", None)
    raise EngineError("no nbgrader course directory above this preprocessor: run it from nbgrader")


def _slot():
    """The GPU plan of `autograde grade --jobs 1`: the first GPU this process may use, else the CPU."""
    from autograde.running import gpus
    if not _pinned:
        plan = gpus.plan(None, None, 1)
        gpus.pin_this_process(plan.gpus)
        _pinned.append(plan.slots[0])
    return _pinned[0]


def context(pp) -> Context:
    """The Context of the command pp runs in, loaded on first use (a formgrader press is one command)."""
    converter = _converter_of(pp)
    with _lock:
        found = _contexts.get(converter)
        if found is None:
            found = _contexts[converter] = load_context(course_of(converter.coursedir), log=pp.log)
    return found


def load_context(course: CourseFolder, log=None) -> Context:
    """Everything grade_class sets up before grading, for one submission at a time."""
    from autograde.classgrade import NO_BWRAP, grading_setup, kernel_threads
    from autograde.running.sandbox import Limits, bwrap_available
    from autograde.trusted.result_cache import ResultCache
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):  # grading never needs the hub (cli._offline_defaults)
        os.environ.setdefault(name, "1")
    if not course.solutions.is_file():
        raise EngineError(f"no solutions notebook at {course.solutions}: is {course.root} the course folder?")
    output = course.output()
    if not bwrap_available() and log is not None:
        log.warning("%s", NO_BWRAP)
    slot = _slot()
    setup = grading_setup(course, output, course.submitted, Limits(), kernel_threads(os.cpu_count() or 1, 1, 1))
    return Context(course, output, setup, ResultCache(output.cache / "results", setup), slot)


def _submission(ctx: Context, student_id: str, notebook_path: Path) -> submissions.Submission:
    """The student's submission as `autograde grade` finds it (no link followed, the same notebook)."""
    found = submissions.find(ctx.course.submitted, paths.ASSIGNMENT, paths.ASSIGNMENT)
    sub = next((s for s in found.submissions if s.student_id == student_id), None)
    if sub is None:
        why = next((s.reason for s in found.skipped if s.name == submissions.shown(student_id)), "not found")
        raise EngineError(f"{submissions.shown(student_id)}: not graded: {why}")
    if sub.path.resolve() != Path(notebook_path).resolve():
        raise EngineError(f"{submissions.shown(student_id)}: nbgrader gave {notebook_path}, but the grader "
                          f"grades {sub.path} ({sub.note or 'the one submission'})")
    return sub


def grade_one(ctx: Context, student_id: str, notebook_path: Path, log=None) -> SubmissionResult:
    """One student's result: kept from an earlier grading by either command, else graded now."""
    from autograde.trusted import grade
    sub = _submission(ctx, student_id, notebook_path)
    text = submissions.read_text(sub.path)
    result = ctx.cache.load(student_id, text)
    if result is not None:
        if log is not None:
            log.info("%s: unchanged since it was last graded: the kept result is reused", student_id)
    else:
        from autograde.classgrade import graded_now
        result = SubmissionResult.from_dict(grade.grade_submission(ctx.setup, student_id, text, ctx.slot))
        result.graded_at = graded_now()  # as classgrade keeps it: with the result, so a reuse keeps it
        ctx.cache.store(text, result)
    result.submission_note, result.timestamp, result.submitted_folder = sub.note or "", sub.timestamp, str(sub.folder)
    return result


def record(ctx: Context, result: SubmissionResult, log=None) -> None:
    """What classgrade.write_outputs does for a class, for this one student: the result saved in
    grader/results/, the gradebook written by outputs/gradebook.record (the answer under a hand score
    compared with the last result), then the CSVs and the report over every result kept there."""
    from autograde.classgrade import as_in_gradebook
    from autograde.outputs import gradebook, report, results
    folder = ctx.output.grader / RESULTS_DIR
    previous = [r for r in results.load_latest(folder) if r.student_id == result.student_id]
    results.save_latest([result], folder)
    flagged = gradebook.record(ctx.output.db_url, [result], {result.student_id: result.timestamp},
                               ctx.course.course_id, previous)
    for f in flagged:
        if log is not None:
            log.warning("%s", f)
    with_hand = as_in_gradebook(results.load_latest(folder), ctx.course, ctx.output)
    results.write_csvs(with_hand, ctx.output.grader)
    report.write_report(with_hand, ctx.output.grader, os.path.relpath(ctx.output.root, ctx.output.grader) + "/",
                        flagged=flagged)


def saved_result(ctx: Context, student_id: str) -> SubmissionResult:
    """The result saved for this student by either command."""
    from autograde.outputs.feedback import safe_part
    path = ctx.output.grader / RESULTS_DIR / f"{safe_part(student_id)}.json"
    try:
        return SubmissionResult.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise EngineError(f"{submissions.shown(student_id)}: no result of the grader in {path} "
                          f"({type(e).__name__}): autograde the submission first") from None


def score_output(score: float, execution_count=None) -> dict:
    """A test cell's score as nbgrader reads partial credit: a numeric execute_result."""
    return {"output_type": "execute_result", "execution_count": execution_count,
            "data": {"text/plain": repr(float(score))}, "metadata": {}}


def scored_notebook(result: SubmissionResult, canonical: dict) -> dict:
    """The executed notebook for autograded/ (the course's notebook when the submission could not be
    read), sanitised (outputs/sanitise.py), each automatic test cell's score put first among its
    outputs, so nbgrader's determine_grade reads exactly the engine's score (an error output or
    stderr before it would read as 0)."""
    from autograde.outputs.sanitise import sanitise_notebook
    from autograde.running.notebook import nbgrader_meta
    nb = sanitise_notebook(copy.deepcopy(result.executed if isinstance(result.executed, dict) else canonical))
    scores = {c.grade_id: c.score for c in result.cells if c.auto and c.score is not None}
    for cell in nb.get("cells", []):
        gid = nbgrader_meta(cell).get("grade_id")
        if cell.get("cell_type") == "code" and gid in scores:
            cell["outputs"] = [score_output(scores[gid], cell.get("execution_count")), *cell.get("outputs", [])]
    return nb


class GradeSubmission(NbGraderPreprocessor):
    """nbgrader's sanitize step, replaced: the engine grades the submitted file, not this copy of it."""

    def preprocess(self, nb, resources):
        ctx = context(self)
        with ctx.setup.in_effect():  # this course's lesson, whichever course this process graded before
            return self._grade(ctx, resources)

    def _grade(self, ctx: Context, resources):
        who = resources["nbgrader"]
        if who["assignment"] != paths.ASSIGNMENT or who["notebook"] != paths.ASSIGNMENT:
            raise EngineError(f"this course's engine grades {paths.ASSIGNMENT}/{paths.ASSIGNMENT}.ipynb, not "
                              f"{who['assignment']}/{who['notebook']}.ipynb")
        meta = resources.get("metadata", {})
        notebook_path = Path(meta.get("path", "."), f"{meta.get('name', who['notebook'])}.ipynb")
        result = grade_one(ctx, who["student"], notebook_path, self.log)
        ctx.results[result.student_id] = result  # for RecordVerdicts, next in this command
        return nbformat.from_dict(scored_notebook(result, ctx.setup.canonical)), resources


class RecordVerdicts(NbGraderPreprocessor):
    """nbgrader's SaveAutoGrades, replaced: the gradebook gets what `autograde grade` writes."""

    def preprocess(self, nb, resources):
        ctx = context(self)
        student = resources["nbgrader"]["student"]
        result = ctx.results.pop(student, None)
        if result is None:
            raise EngineError(f"{submissions.shown(student)}: not graded by this command (the sanitize step is "
                              f"GradeSubmission: both of the course's Autograde settings go together)")
        with ctx.setup.in_effect():
            record(ctx, result, self.log)
        return nb, resources


class FeedbackPage(Exporter):
    """nbgrader's feedback exporter, replaced: the grader's page (named mistakes, curves, no hidden test)
    from the saved result and what people entered in formgrader."""

    output_mimetype = "text/html"

    @default("file_extension")
    def _file_extension_default(self):
        return ".html"

    def from_notebook_node(self, nb, resources=None, **kw):
        from autograde.classgrade import as_in_gradebook
        from autograde.outputs import feedback
        _, resources = super().from_notebook_node(nb, resources, **kw)
        ctx = context(self)
        result = saved_result(ctx, resources["nbgrader"]["student"])
        with ctx.setup.in_effect():
            shown = as_in_gradebook([result], ctx.course, ctx.output)[0]  # as write_feedback_pages shows it
            return feedback.render_feedback(shown), resources
