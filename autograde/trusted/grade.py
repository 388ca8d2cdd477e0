"""Grading one submission, the worker's side: a pure function, run in local processes or on Dask workers.

`grade_submission(setup, student_id, text)` takes the notebook's *content* and returns plain
data (SubmissionResult.to_dict; grade_all makes records of it again), so workers need no shared file
system and the result never depends on which worker ran it. The GradingSetup carries everything of
the course a worker needs, its lesson, solution sources and cache folder included: a worker reads no
environment variable and no notebook to learn them, and one process can grade two courses.
Only the parent process writes files and the gradebook (one writer: no sqlite lock errors).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.running import ahead, gpus, launch, sandbox_sweep
from autograde.trusted import isolation, result_cache, solution as reference
from autograde.outputs.records import CellResult, SubmissionResult
from autograde.running.notebook import canonical_notebook, graded_cells, opening, prepare, read_submission
from autograde.running.notebook import grade_id as cell_grade_id
from autograde.running.sandbox import Limits, run_notebook

log = logging.getLogger(__name__)
MIN_RETEST_S = 30.0  # a second run over the solution's base classes needs at least this much of --timeout


@dataclass
class GradingSetup:
    """Everything of a course a worker needs to grade, as data (pickled to each worker): not the
    instructor's folder (course.CourseFolder), what grading it takes."""
    assignment_id: str
    notebook_id: str
    canonical: dict
    solution_sources: dict
    limits: dict = field(default_factory=lambda: asdict(Limits()))
    threads: int = 1
    hidden: list = field(default_factory=list)  # more folders the kernel must not see (submissions, outputs)
    lesson: str = ""  # the lesson's name (visible/lesson.py); empty: the default lesson
    cache: str = ""   # the folder of reference runs and kept results (result_cache.py); empty: the default one

    @contextmanager
    def in_effect(self) -> Iterator[GradingSetup]:
        """Within this block the lesson, the solution sources and the cache folder are this setup's, for
        the modules that ask for them (judge, isolation, mistakes): whatever process or thread runs it."""
        with lessons.chosen(self.lesson or lessons.default_name()), reference.using(sources=self.solution_sources), \
                result_cache.using(Path(self.cache) if self.cache else result_cache.default_cache_dir()):
            yield self


def load_setup(solutions: Path | None = None, cache: Path | None = None, lesson: str | None = None,
               assignment_id: str | None = None, limits: Limits | None = None, threads: int = 1) -> GradingSetup:
    """The GradingSetup of a lesson's solutions notebook. Each of solutions, cache and lesson, when not
    given, is the default one (solution.solutions_notebook, result_cache.cache_dir, lesson.current_name),
    read now and kept in the setup."""
    lesson = lesson or lessons.current_name()
    with lessons.chosen(lesson), reference.using(notebook=solutions):
        path = reference.solutions_notebook()
        sources = reference.solution_sources()
    canon = canonical_notebook(nbformat.read(path, as_version=4))
    return GradingSetup(assignment_id or lesson, path.stem, json.loads(nbformat.writes(canon)), sources,
                        asdict(limits or Limits()), threads, lesson=lesson,
                        cache=str(cache or result_cache.cache_dir()))


def _sandbox_views(hidden=()) -> tuple[list[Path], list[Path]]:
    """What the student's kernel may read besides the system and Python (the sandbox is an allowlist:
    the rest of the repository, homes and the class do not exist inside), and folders to hide in it."""
    pkg = paths.REPO_ROOT / "autograde"
    # The package's own __init__ and its visible/ folder (what students get anyway, with the hidden
    # tests' probe); miniai holds the committed FashionMNIST sample.
    expose = [paths.REPO_ROOT / "miniai", Path(sys.prefix), pkg / "__init__.py", pkg / "visible"]
    return list(map(Path, hidden)), [p for p in expose if p.exists()]


def _cell_index(nb: dict, grade_id: str) -> int | None:
    for i, c in enumerate(nb["cells"]):
        if cell_grade_id(c) == grade_id:
            return i
    return None


def grade_submission(setup: GradingSetup | dict, student_id: str, text: str, slot: gpus.Slot | None = None,
                     start_next_ahead: bool = False) -> dict:
    """Grade one notebook's content. Never raises for anything the submission does.
    `slot`: the GPU (or CPU) its kernel may use; None: this worker's own (see gpus.py).
    `start_next_ahead`: another submission follows in this process, so start its kernel ahead (ahead.py)."""
    setup = setup if isinstance(setup, GradingSetup) else GradingSetup(**setup)
    with setup.in_effect():
        return _grade(setup, student_id, text, slot, start_next_ahead)


def _grade(setup: GradingSetup, student_id: str, text: str, slot: gpus.Slot | None, start_next_ahead: bool) -> dict:
    t0 = time.monotonic()
    canon = nbformat.reads(json.dumps(setup.canonical), as_version=4)
    cells = graded_cells(canon)
    result = SubmissionResult(student_id, setup.assignment_id, setup.notebook_id)
    try:
        prepared = prepare(read_submission(text), canon)
    except ValueError as e:
        result.status, result.message = "unreadable", f"Your submission could not be graded: {e}."
        result.cells = [_cell_row(c, 0.0 if c["auto"] else None, result.message) for c in cells]
        return result.to_dict()
    hide, expose = _sandbox_views(setup.hidden)
    threads = str(max(1, setup.threads))
    limits = Limits(**setup.limits)
    if limits.cpus is None:  # a submission gets its share of the cores, so it cannot slow the others
        limits.cpus = float(max(1, setup.threads))
    # PYTHONPATH: the kernel imports autograde's visible modules and miniai from the checkout this grader
    # runs from, whichever checkout the interpreter's editable install points at.
    run_args: dict[str, Any] = dict(hide=hide, expose=expose,
                                    env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                                         "PYTHONPATH": str(paths.REPO_ROOT),
                                         **gpus.kernel_env(slot or gpus.Slot(gpus.WORKER))})

    def start_next() -> None:  # the next submission's kernel starts while this one runs (ahead.py)
        ahead.start(opening(canon), limits=limits, **run_args)
    with tempfile.TemporaryDirectory(prefix=sandbox_sweep.workdir_prefix()) as work:
        run = run_notebook(prepared, Path(work), limits=limits, started=ahead.take(),
                           on_handed_over=start_next if start_next_ahead else None, **run_args)
    t_run = time.monotonic()
    executed = run.notebook
    verdicts = {c["grade_id"]: _judged(c["grade_id"], run) for c in cells if c["auto"]}
    try:
        _retest_over_solutions(setup, prepared, canon, run, verdicts, limits, t0, result.timings, run_args)
    except Exception:  # the first run's verdicts stand; never lose the submission
        log.exception("the retest over the solution's base classes failed for %s", student_id)
    for c in cells:
        gid = c["grade_id"]
        if not c["auto"]:
            result.cells.append(_cell_row(c, None, "Graded by hand."))
            continue
        verdict = verdicts[gid]
        message = verdict.message
        if verdict.details.get("no_result"):
            message = _why_no_result(executed, run, gid) or message
            verdict.details = {}
        message = gpus.explain_oom(message, slot)
        row = _cell_row(c, round(verdict.score * c["points"], 4), message)
        row.mistake, row.details = verdict.mistake, verdict.details
        result.cells.append(row)
    result.note = _zero_note(result.cells, prepared, canon)
    # Errors in cells of a notebook that ran to the end are each test's business, not a run problem.
    result.status = run.status
    result.message = run.message if run.status != "ok" else " ".join(getattr(run, "notes", []))
    result.executed, result.sandboxed, result.timed_out_cells = executed, run.sandboxed, list(run.timed_out_cells)
    result.timings.update(run=round(t_run - t0, 3),
                          judge=round(time.monotonic() - t_run - result.timings.get("retest", 0), 3),
                          cells={str(k): v for k, v in run.cell_seconds.items()})
    return result.to_dict()


def _judged(test_id: str, run):
    """The judge's verdict on what one test's probe sent in this run (decoded and schema-checked once)."""
    from autograde.trusted import judge
    raw = (getattr(run, "probes", None) or {}).get(test_id)
    verdict = judge.judge_probe(test_id, raw)
    if raw is None:
        verdict.details["no_result"] = True
    return verdict


def _retest_over_solutions(setup, prepared, canon, run, verdicts, limits, t0, timings, run_args) -> None:
    """Tests that lost points while a class they build on also did: run them again over the
    solution's versions of those classes and keep the better verdict (isolation.py says why)."""
    retest = [t for t in isolation.to_retest({g: v.score for g, v in verdicts.items()})
              if not _retest_futile(t, verdicts[t], run, prepared, canon)]
    remaining = limits.wall_s - (time.monotonic() - t0)
    if not retest or run.status in ("timeout", "error") or remaining < MIN_RETEST_S:
        return
    lost = {lessons.current().tests_by_id[g].exercise for g, v in verdicts.items() if v.score < 1}
    again_nb = isolation.retest_notebook(prepared, setup.solution_sources, retest, set(run.cell_errors))
    t_again = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=sandbox_sweep.workdir_prefix()) as work:
        again = run_notebook(again_nb, Path(work), limits=replace(limits, wall_s=remaining), **run_args)
    for gid in retest:
        better = _judged(gid, again)  # a run that held solution code: only its score counts
        if better.score > verdicts[gid].score:
            verdicts[gid] = isolation.retest_verdict(verdicts[gid], better, lost)
    timings["retest"] = round(time.monotonic() - t_again, 3)


def _retest_futile(test_id: str, verdict, run, prepared, canon) -> bool:
    """A second run cannot help when the exercise's own cell is the unfilled stub, when that cell
    killed the kernel (it would again, and a notebook crashing in every answer would spend most of its
    wall limit on futile retests: `python bench/restarts.py`, BENCHMARKS.md section 1b), or when the test
    cell ran cleanly but recorded nothing (the student's code silenced the probe: it would again)."""
    exercise = lessons.current().tests_by_id[test_id].exercise
    stub = next((c.source for c in canon.cells if cell_grade_id(c) == exercise), None)
    answer = next((c.source for c in prepared.cells if cell_grade_id(c) == exercise), None)
    idx = _cell_index(run.notebook, test_id)
    silenced = verdict.details.get("no_result") and idx in run.cell_seconds and idx not in run.cell_errors
    crashed = _cell_index(run.notebook, exercise) in run.crashed_cells
    return answer == stub or crashed or bool(silenced)


def _why_no_result(executed: dict, run, test_id: str) -> str:
    """Why this test left no result: the answer cell it needs failed, the test cell failed, the test
    cell ran but sent nothing (its probe was replaced), or the run stopped before it."""
    spec = lessons.current().tests_by_id[test_id]
    for exercise, cname in lessons.current().classes.items():
        idx = _cell_index(executed, exercise)
        if cname in spec.classes and idx in run.cell_errors:
            return f"Your {cname} cell failed ({run.cell_errors[idx]}), so this test could not run."
    idx = _cell_index(executed, test_id)
    if idx in run.cell_errors:
        return f"This test could not run: {run.cell_errors[idx]}."
    if idx in run.cell_seconds and run.status == "ok":
        return ("This test's cell ran but recorded nothing: code in your notebook replaced or bypassed the "
                "grader's helpers (for example autograde.visible.probe), so there was nothing to grade. Scores "
                "come only from the hidden tests' own records.")
    return run.message


def _zero_note(rows: list[CellResult], prepared, canon) -> str:
    """For a submission that scored nothing automatically: the one line a grade table shows."""
    auto = [r for r in rows if r.auto]
    if not auto or any(r.score for r in auto):
        return ""
    stub = {cell_grade_id(c): c.source for c in canon.cells}
    answers = [c for c in prepared.cells if cell_grade_id(c) in lessons.current().classes]
    if all(c.source == stub.get(cell_grade_id(c)) for c in answers):
        return "no answer filled in"
    if all("recorded nothing" in r.message or "is malformed" in r.message for r in auto):
        return "the hidden tests recorded nothing from your classes: see feedback"
    return "no hidden test passed: see feedback"


def _join(*parts) -> str:
    return " ".join(p for p in parts if p)


def _cell_row(cell: dict, score, message: str) -> CellResult:
    return CellResult(cell["grade_id"], score, cell["points"], message, auto=cell["auto"])


def _warm_reference(setup: GradingSetup, stop: threading.Event | None = None) -> None:
    """Compute the solution versions' short runs once, into the disk cache the workers read; stop
    (set on Ctrl-C) ends it between two tests."""
    from autograde.trusted import judge
    with setup.in_effect():
        for tid in lessons.current().tests_by_id:
            if stop is not None and stop.is_set():
                return
            judge.reference_data(tid)


def _progress(total: int):
    from tqdm import tqdm
    return tqdm(total=total, desc="grading", unit="nb", file=sys.stderr, disable=total == 0)


def _serve(grader: int, owner: str) -> None:
    """A pool worker's first act: die with its grader (SIGKILL), and name its working folders and cgroups
    after it. A grader killed with SIGKILL left its workers grading on, blocked on a result pipe no one
    read, and their kernels with them; and the next run's sweep spared their folders, named after live
    workers."""
    launch.die_with_parent(grader)
    sandbox_sweep.adopt(owner)


def grade_all(texts: list[tuple[str, str]], setup: GradingSetup, jobs: int = 1, scheduler: str | None = None,
              on_result=None, slots: list | None = None) -> list[SubmissionResult]:
    """Grade every (student_id, text): local processes (jobs) or a Dask cluster (scheduler address).
    slots (gpus.Plan.slots): each running submission holds one, so each GPU runs only its share.
    on_result(result) runs as each one finishes, so an interrupted run keeps what it finished."""
    results = []

    def done(data: dict) -> None:  # plain data from a worker, a record from here on
        result = SubmissionResult.from_dict(data)
        results.append(result)
        if on_result:
            on_result(result)
        bar.update()
    with _progress(len(texts)) as bar:
        if scheduler:
            from distributed import Client
            from distributed import as_completed as dask_completed
            with Client(scheduler) as client:
                setup_f = client.scatter(setup, broadcast=True)
                futures = [client.submit(grade_submission, setup_f, sid, text, slots[0] if slots else None, pure=False)
                           for sid, text in texts]
                for fut in dask_completed(futures):
                    done(fut.result())
        elif jobs <= 1:
            for i, (sid, text) in enumerate(texts):
                done(grade_submission(setup, sid, text, slots[0] if slots else None, i + 1 < len(texts)))
        else:
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_serve,
                                       initargs=(os.getpid(), sandbox_sweep.owner()))
            try:
                def start(item, slot):  # a worker starts a next kernel only while jobs remain for it
                    i, (sid, text) = item
                    return pool.submit(grade_submission, setup, sid, text, slot, i + jobs < len(texts))
                for result in gpus.run_on_slots(slots or [gpus.Slot(gpus.WORKER)] * jobs, list(enumerate(texts)),
                                                start, jobs):
                    done(result)
            finally:  # on Ctrl-C: drop what has not started rather than wait for it
                pool.shutdown(wait=True, cancel_futures=True)
    return sorted(results, key=lambda r: r.student_id)

