"""Grading a class: one pure function per submission, run in local processes or on Dask workers.

`grade_submission(course, student_id, text)` takes the notebook's *content* and returns plain
data, so workers need no shared file system and the result never depends on which worker ran it.
Only the parent process writes files and the gradebook (one writer: no sqlite lock errors).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from . import cases, reference
from .notebook import canonical_notebook, graded_cells, prepare, read_submission
from .sandbox import Limits, run_notebook

MAX_PROBE_BYTES = 20 * 2**20  # a probe file is a few kB; anything huge is not ours


@dataclass
class Course:
    """Everything a worker needs to grade, as data."""
    assignment_id: str
    notebook_id: str
    canonical: dict
    solution_sources: dict
    limits: dict = field(default_factory=lambda: asdict(Limits()))
    threads: int = 1
    hidden: list = field(default_factory=list)  # more folders the kernel must not see (submissions, outputs)


def load_course(assignment_id: str = reference.ASSIGNMENT, limits: Limits | None = None, threads: int = 1) -> Course:
    path = reference.solutions_notebook()
    canon = canonical_notebook(nbformat.read(path, as_version=4))
    return Course(assignment_id, path.stem, json.loads(nbformat.writes(canon)), reference.solution_sources(),
                  asdict(limits or Limits()), threads)


def _sandbox_views(hidden=()) -> tuple[list[Path], list[Path]]:
    """What the student's kernel must not see (the course repo, homes, the class) and what it needs back."""
    root = reference.REPO_ROOT
    pkg = root / "autograde"
    hide = [root, Path.home(), Path("/home"), Path("/root"), *map(Path, hidden)]
    expose = [root / "miniai", Path(sys.prefix)]
    expose += [pkg / name for name in ("__init__.py", "cases.py", "compare.py", "probe.py", "visible.py",
                                       "visible_expected.json")]
    return hide, [p for p in expose if p.exists()]


def _read_probe(probe_dir: Path, test_id: str):
    path = probe_dir / f"{test_id}.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_PROBE_BYTES:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None


def _cell_index(nb: dict, grade_id: str) -> int | None:
    for i, c in enumerate(nb["cells"]):
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    return None


def grade_submission(course: Course | dict, student_id: str, text: str) -> dict:
    """Grade one notebook's content. Never raises for anything the submission does."""
    from . import judge
    course = course if isinstance(course, Course) else Course(**course)
    reference.set_sources(course.solution_sources)
    t0 = time.monotonic()
    canon = nbformat.reads(json.dumps(course.canonical), as_version=4)
    cells = graded_cells(canon)
    result = {"student_id": student_id, "assignment_id": course.assignment_id,
              "notebook_id": course.notebook_id, "status": "ok", "message": "", "cells": [],
              "executed": None, "timings": {}}
    try:
        prepared = prepare(read_submission(text), canon)
    except ValueError as e:
        result.update(status="unreadable", message=f"Your submission could not be graded: {e}.")
        result["cells"] = [_cell_row(c, 0.0 if c["auto"] else None, result["message"]) for c in cells]
        return result
    with tempfile.TemporaryDirectory(prefix="autograde-") as work:
        hide, expose = _sandbox_views(course.hidden)
        threads = str(max(1, course.threads))
        limits = Limits(**course.limits)
        if limits.cpus is None:  # a submission gets its share of the cores, so it cannot slow the others
            limits.cpus = float(max(1, course.threads))
        run = run_notebook(prepared, Path(work), limits=limits, hide=hide, expose=expose,
                           env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
        probes = {c["grade_id"]: _read_probe(Path(work) / "probe", c["grade_id"]) for c in cells if c["auto"]}
    t_run = time.monotonic()
    executed = run.notebook
    for c in cells:
        gid = c["grade_id"]
        if not c["auto"]:
            result["cells"].append(_cell_row(c, None, "Graded by hand."))
            continue
        verdict = judge.judge(gid, probes[gid])
        message = verdict.message
        if probes[gid] is None:
            message = _why_no_result(executed, run, gid) or message
        row = _cell_row(c, round(verdict.score * c["points"], 4), message)
        row.update(mistake=verdict.mistake, details=verdict.details)
        result["cells"].append(row)
    # Errors in cells of a notebook that ran to the end are each test's business, not a run problem.
    result.update(status=run.status, message=run.message if run.status != "ok" else "",
                  executed=executed, sandboxed=run.sandboxed, timed_out_cells=run.timed_out_cells,
                  timings={"run": round(t_run - t0, 3), "judge": round(time.monotonic() - t_run, 3),
                           "cells": {str(k): v for k, v in run.cell_seconds.items()}})
    return result


def _why_no_result(executed: dict, run, test_id: str) -> str:
    """Why a test cell left no result: the answer cell it needs failed, the cell itself failed, or the run stopped."""
    spec = cases.TESTS[test_id]
    for exercise, cname in cases.EXERCISES.items():
        idx = _cell_index(executed, exercise)
        if cname in spec.classes and idx in run.cell_errors:
            return f"Your {cname} cell failed ({run.cell_errors[idx]}), so this test could not run."
    idx = _cell_index(executed, test_id)
    if idx in run.cell_errors:
        return f"This test could not run: {run.cell_errors[idx]}."
    return run.message


def _cell_row(cell: dict, score, message: str) -> dict:
    return {"grade_id": cell["grade_id"], "score": score, "max_score": cell["points"], "message": message,
            "auto": cell["auto"], "mistake": None, "details": {}}


def _warm_reference(course: Course) -> None:
    """Compute the solution versions' short runs once, into the disk cache the workers read."""
    from . import judge
    reference.set_sources(course.solution_sources)
    for tid, spec in cases.TESTS.items():
        judge.reference_data(tid)


def _progress(total: int):
    from tqdm import tqdm
    return tqdm(total=total, desc="grading", unit="nb", file=sys.stderr, disable=total == 0)


def grade_all(texts: list[tuple[str, str]], course: Course, jobs: int = 1, scheduler: str | None = None,
              on_result=None) -> list[dict]:
    """Grade every (student_id, text): local processes (jobs) or a Dask cluster (scheduler address).
    on_result(result) runs as each one finishes, so an interrupted run keeps what it finished."""
    results = []

    def done(result: dict) -> None:
        results.append(result)
        if on_result:
            on_result(result)
        bar.update()
    with _progress(len(texts)) as bar:
        if scheduler:
            from distributed import Client
            from distributed import as_completed as dask_completed
            with Client(scheduler) as client:
                course_f = client.scatter(course, broadcast=True)
                futures = [client.submit(grade_submission, course_f, sid, text, pure=False) for sid, text in texts]
                for fut in dask_completed(futures):
                    done(fut.result())
        elif jobs <= 1:
            for sid, text in texts:
                done(grade_submission(course, sid, text))
        else:
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
            try:
                futures = [pool.submit(grade_submission, course, sid, text) for sid, text in texts]
                for fut in as_completed(futures):
                    done(fut.result())
            finally:  # on Ctrl-C: drop what has not started rather than wait for it
                pool.shutdown(wait=True, cancel_futures=True)
    return sorted(results, key=lambda r: r["student_id"])
