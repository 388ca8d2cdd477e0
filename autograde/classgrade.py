"""Grading a class: find the submissions, grade what changed, write what nbgrader and the instructor read.

Everything lands where nbgrader's own commands look (course.Output): executed notebooks and the
nbgrader files of each submission (timestamp.txt, submission_secret.txt) in autograded/, feedback
pages with those files in feedback/, scores and timestamps in the gradebook. The grader's own files
go to OUT/grader/. Problems with the setting (OUT not writable, OUT inside SUBMITTED, no submission
for this assignment) stop the run before anything is graded, in one line.
"""
from __future__ import annotations

import contextvars
import json
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from autograde import paths
from autograde.outputs import feedback, gradebook, report, results
from autograde.outputs.records import SubmissionResult
from autograde.trusted import grade
from autograde import access, identical, submissions
from autograde.course import CourseError, CourseFolder, Output
from autograde.visible import lesson as lessons
from autograde.visible.atomic import make_dirs, write_atomic


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during grading, after keeping the results already finished."""

    def __init__(self, kept: int):
        super().__init__(kept)
        self.kept = kept
        self.message = (f"interrupted: {kept} submission(s) graded in this run were kept; grading again "
                        f"reuses them and grades the rest")


@dataclass
class ClassGrading:
    results: list[SubmissionResult]
    output: Output
    reused: int
    skipped: list[submissions.Skipped] = field(default_factory=list)  # folders not graded, with why
    identical: list[identical.Group] = field(default_factory=list)  # notebooks handed in twice: a hint
    with_hand: list[SubmissionResult] = field(default_factory=list)  # results as the gradebook has them


def say(line: str) -> None:
    print(line, file=sys.stderr)


def check_output(output: Output, submitted: Path) -> None:
    """OUT must be writable and must not be inside SUBMITTED (it would be read as a student)."""
    out, sub = output.root.resolve(), Path(submitted).resolve()
    if out == sub or sub in out.parents:
        raise CourseError(f"--out {output.root} is inside the submissions folder {submitted}: choose a folder "
                          f"outside it (the default is the course folder)")
    try:
        make_dirs(out)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".autograde-write-test-"):
            pass
    except OSError as e:
        raise CourseError(f"cannot write to --out {output.root}: {e.strerror or e}") from None
    for path in (output.db_path, output.autograded, output.feedback, output.grader):
        if path is not None and path.exists() and not os.access(path, os.W_OK):
            raise CourseError(f"cannot write to {path}: grading would fail at the end; fix its permissions")


def find(submitted: Path, notebook_id: str | None = None) -> submissions.Found:
    """This assignment's submissions and what was skipped; warnings said; no submission at all is an error
    that names what was there."""
    notebook_id = notebook_id or paths.ASSIGNMENT
    if not Path(submitted).is_dir():
        raise CourseError(f"no submissions folder {submitted} (nbgrader's collect fills SUBMITTED/{{student}}/"
                          f"{paths.ASSIGNMENT}/)")
    found = submissions.find(submitted, paths.ASSIGNMENT, notebook_id)
    for warning in found.warnings:
        say(f"warning: {warning}")
    if found.other_assignments:
        say(f"note: not graded, submissions for other assignments: {', '.join(found.other_assignments)}")
    if found.files:
        say(f"note: not graded, files that are not student folders: {', '.join(found.files)}")
    if not found.submissions:
        if found.skipped:
            raise CourseError(f"no submission under {submitted} could be graded: {len(found.skipped)} folder(s) "
                              f"skipped, each said above with why")
        if found.other_assignments:
            raise CourseError(f"no submissions for {paths.ASSIGNMENT} under {submitted}: it holds only "
                              f"{', '.join(found.other_assignments)}")
        raise CourseError(f"no submissions found under {submitted} (expected {{student_id}}/"
                          f"{paths.ASSIGNMENT}/{{notebook}}.ipynb)")
    for sub in found.submissions:
        if sub.note:
            say(f"{sub.student_id}: {sub.note}")
    return found


NO_BWRAP = ("bubblewrap (bwrap) is not available: submissions run WITHOUT network isolation or hidden paths. "
            "Install the Debian/Ubuntu package 'bubblewrap'.")


def grading_setup(course: CourseFolder, output: Output, submitted: Path, limits, threads: int) -> grade.GradingSetup:
    """What a grading worker needs of this course (grade.GradingSetup), as `autograde grade` and nbgrader's
    own commands (nbgrader_engine.py) both load it: its lesson and solutions, the cache folder, the
    folders its kernels must not see. All are passed on as arguments: nothing is left in the
    environment for the next course this process grades."""
    setup = grade.load_setup(solutions=course.solutions, cache=output.cache, lesson=course.lesson_name(),
                             limits=limits, threads=threads)
    setup.hidden = [str(Path(submitted).resolve()), str(output.root), str(course.root)]
    return setup


def grade_class(course: CourseFolder, submitted: Path | None = None, out: Path | None = None, jobs: int = 1,
                scheduler: str | None = None, wall_s: float | None = None, cell_s: float | None = None,
                regrade: bool = False, slots: list | None = None) -> ClassGrading:
    """Grade every submission under SUBMITTED (default: the course's) into OUT (default: the course).
    Results of an earlier grading into the same OUT are reused where nothing changed, unless regrade."""
    with lessons.chosen(course.lesson_name()):  # the course's lesson, for the tables, pages and gradebook
        return _grade_class(course, submitted, out, jobs, scheduler, wall_s, cell_s, regrade, slots)


def _grade_class(course: CourseFolder, submitted: Path | None, out: Path | None, jobs: int, scheduler: str | None,
                 wall_s: float | None, cell_s: float | None, regrade: bool, slots: list | None) -> ClassGrading:
    from autograde.trusted.result_cache import ResultCache
    from autograde.running.sandbox import Limits, bwrap_available
    submitted = Path(submitted) if submitted else course.submitted
    output = course.output(out)
    check_output(output, submitted)
    found = find(submitted)
    subs = found.submissions
    if not course.solutions.is_file():
        raise CourseError(f"no solutions notebook at {course.solutions}: is {course.root} the course folder?")
    if (open_solutions := access.solutions_exposed(course)):
        say(f"warning: other accounts on this machine can read the solutions ({course.solutions}); close them: "
            f"{open_solutions.fix}   (autograde doctor checks the whole course)")
    if not bwrap_available():
        say(f"WARNING: {NO_BWRAP}")
    limits = Limits(**{k: v for k, v in (("wall_s", wall_s), ("cell_s", cell_s)) if v})  # type: ignore[arg-type]
    setup = grading_setup(course, output, submitted, limits, kernel_threads(os.cpu_count() or 1, jobs, len(subs)))
    texts = [(s.student_id, submissions.read_text(s.path)) for s in subs]
    same = identical.groups(texts, setup.canonical)
    kept = ResultCache(output.cache / "results", setup)
    reused = [] if regrade else [r for r in (kept.load(sid, text) for sid, text in texts) if r]
    if reused:
        done = {r.student_id for r in reused}
        texts = [(sid, text) for sid, text in texts if sid not in done]
        say(f"{len(reused)} submission(s) unchanged since they were last graded into {output.root}/: their "
            f"results are reused (--regrade grades them again)")
    text_of = dict(texts)
    stored = []

    def keep(result: SubmissionResult) -> None:
        result.graded_at = result.graded_at or graded_now()  # kept with the result, so a reuse keeps it
        if kept.store(text_of[result.student_id], result):
            stored.append(result.student_id)

    # While the first kernels start: nbgrader builds the gradebook, and the solution versions'
    # results are loaded (or computed) into the cache. Graded in this process, the judge waits for
    # them (judge.reference_data holds a lock); other processes read the finished disk cache.
    stop = threading.Event()
    try:
        db_future = in_background(gradebook.create, output.db_url, paths.ASSIGNMENT, course.root,
                                  paths.ASSIGNMENT, course.course_id)
        graded, reference_future = [], None
        if any(_is_json(text) for _, text in texts):  # nothing to judge when all are reused or unreadable
            reference_future = in_background(grade._warm_reference, setup, stop)
            if jobs > 1 or scheduler:
                reference_future.result()
        if texts:
            placed = {"slots": slots} if slots else {}  # where the kernels run (gpus.for_grading)
            graded = grade.grade_all(texts, setup, jobs=jobs, scheduler=scheduler, on_result=keep, **placed)
        if reference_future:
            reference_future.result()
        db_future.result()
    except KeyboardInterrupt:
        stop.set()  # the warm-up stops after the test it is on; exit does not wait for it
        raise Interrupted(len(stored)) from None
    by_student = {s.student_id: s for s in subs}
    graded = sorted(graded + reused, key=lambda r: r.student_id)
    for r in graded:
        sub = by_student[r.student_id]
        r.submission_note, r.timestamp, r.submitted_folder = sub.note or "", sub.timestamp, str(sub.folder)
    with_hand = write_outputs(graded, course, output, found.skipped, same)
    return ClassGrading(graded, output, len(reused), found.skipped, same, with_hand)


def graded_now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def in_background(fn, *args) -> Future:
    """fn(*args) in a daemon thread, in this thread's context (the lesson chosen for this course). A
    ThreadPoolExecutor's threads are joined at exit, so Ctrl-C would wait minutes for a warm-up no one
    needs any more (CI saw it pass 300 s)."""
    future: Future = Future()
    context = contextvars.copy_context()

    def work():
        try:
            future.set_result(context.run(fn, *args))
        except BaseException as e:  # noqa: BLE001 - handed to whoever asks for the result
            future.set_exception(e)
    threading.Thread(target=work, name=getattr(fn, "__name__", "background"), daemon=True).start()
    return future


def kernel_threads(cores: int, jobs: int, count: int) -> int:
    """Each kernel's share of the cores. With more submissions than jobs, each job's next kernel is
    started beside the running one (running/ahead.py), so twice as many kernels share the cores.
    Two torch threads per kernel beside a kernel importing stalled the running one; one each is faster
    with the same scores (`python bench/start_ahead.py` compares them, BENCHMARKS.md section 1c)."""
    at_once = max(1, jobs) * (2 if count > max(1, jobs) else 1)
    return max(1, cores // at_once)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def write_outputs(graded: list[SubmissionResult], course: CourseFolder, output: Output,
                  skipped: Sequence[submissions.Skipped] = (), same: Sequence[identical.Group] = (),
                  ) -> list[SubmissionResult]:
    """Everything a grading writes; returns the results as the gradebook now has them (hand scores,
    overrides, comments), which the CSVs, the pages and the report show. The last grading's results
    are read before they are replaced: the gradebook compares answers under hand scores with them."""
    previous = results.load_latest(output.grader / "results")
    results.write_executed(graded, output.autograded)
    results.save_latest(graded, output.grader / "results")
    flagged = gradebook.record(output.db_url, graded, {r.student_id: r.timestamp for r in graded},
                               course.course_id, previous)
    for f in flagged:
        say(str(f))
    with_hand = as_in_gradebook(graded, course, output)
    results.write_csvs(with_hand, output.grader)
    write_feedback_pages(graded, course, output, with_hand)
    link_prefix = os.path.relpath(output.root, output.grader) + "/"
    report.write_report(with_hand, output.grader, link_prefix, skipped=skipped, identical=same, flagged=flagged)
    return with_hand


def as_in_gradebook(graded: list[SubmissionResult], course: CourseFolder, output: Output) -> list[SubmissionResult]:
    """Each result with what people entered in the gradebook (hand scores, overrides, comments, and
    which hand scores are flagged for them again)."""
    hand = gradebook.hand_grading(output.db_url, graded, course.course_id)
    shown = []
    for r in graded:
        h = hand.get(r.student_id) or gradebook.HandGrading()
        shown.append(r.with_hand_grading(h.scores, h.comments, h.to_review))
    return shown


def write_feedback_pages(graded: list[SubmissionResult], course: CourseFolder, output: Output,
                         with_hand: list[SubmissionResult] | None = None) -> list[Path]:
    """Each student's page, from the gradebook as it is now (hand scores, overrides, comments; read
    here unless with_hand has them), with the nbgrader files release_feedback needs beside it."""
    written = []
    for r, shown in zip(graded, with_hand or as_in_gradebook(graded, course, output)):
        written.append(feedback.write_feedback(shown, output.root, output.feedback))
        copy_nbgrader_files(r, output)
    return written


NBGRADER_FILE_BYTES = 4096  # timestamp.txt is a date, submission_secret.txt a short hex string


def read_nbgrader_file(path: Path) -> bytes | None:
    """A student folder's nbgrader file, when it is a regular file (no link followed, no FIFO waited
    on) of at most NBGRADER_FILE_BYTES; else None, with a warning for one that is too large."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        data = os.read(fd, NBGRADER_FILE_BYTES + 1) if st.st_size <= NBGRADER_FILE_BYTES else b""
        if st.st_size > NBGRADER_FILE_BYTES or len(data) > NBGRADER_FILE_BYTES:
            say(f"warning: {path} is {max(st.st_size, len(data)):,} bytes, more than nbgrader writes "
                f"({NBGRADER_FILE_BYTES:,} at most): not copied")
            return None
        return data
    except OSError:
        return None
    finally:
        os.close(fd)


def copy_nbgrader_files(result: SubmissionResult, output: Output) -> None:
    """timestamp.txt and submission_secret.txt into autograded/ and feedback/, as nbgrader's autograde
    and generate_feedback do: release_feedback reads them, fetch_feedback matches the secret. Each is
    read once, and only when it is a small regular file (read_nbgrader_file)."""
    if not result.submitted_folder:
        return
    folder = Path(result.submitted_folder)
    found = {name: read_nbgrader_file(folder / name) for name in submissions.NBGRADER_FILES}
    parts = (feedback.safe_part(result.student_id), feedback.safe_part(result.assignment_id))
    for target in (output.autograded, output.feedback):
        dest = Path(target, *parts)
        make_dirs(dest)
        for name, data in found.items():
            if data is not None:
                write_atomic(dest / name, data)


def rebuild_feedback(course: CourseFolder, out: Path | None = None) -> list[Path]:
    """`autograde feedback`: the pages, grades.csv and cells.csv again from the latest results and the
    gradebook as people left it."""
    output = course.output(out)
    graded = results.load_latest(output.grader / "results")
    if not graded:
        raise CourseError(f"nothing graded into {output.root} yet ({output.grader / 'results'} is empty): "
                          f"run autograde grade first")
    with lessons.chosen(course.lesson_name()):
        with_hand = as_in_gradebook(graded, course, output)
        results.write_csvs(with_hand, output.grader)  # with the hand scores entered since the grading
        return write_feedback_pages(graded, course, output, with_hand)
