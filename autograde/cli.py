"""The `autograde` command: release, grade, check, demo."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import reference

SAMPLES_DIR = Path(__file__).with_name("samples")


def _offline_defaults() -> None:
    """Grading never needs the hub; without these, datasets retries an unreachable hub for ~25 s."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def cmd_release(args) -> int:
    from .release import release
    for path in release():
        print(f"wrote {path.relative_to(reference.REPO_ROOT)}")
    return 0


def grade_class(submitted: Path, out: Path, jobs: int = 1, scheduler: str | None = None,
                wall_s: float | None = None, cell_s: float | None = None, regrade: bool = False) -> list[dict]:
    """Grade every notebook under submitted/ into out/: CSVs, gradebook, feedback, report.
    Results of an earlier grading into the same out/ are reused where nothing changed, unless regrade."""
    from . import feedback, gradebook, report, results
    from .grade import find_submissions, grade_all, load_course, read_submissions, _warm_reference
    from .result_cache import ResultCache, cache_dir
    from .sandbox import Limits, bwrap_available
    subs = find_submissions(submitted)
    if not subs:
        raise SystemExit(f"no submissions found under {submitted} (expected {{student_id}}/{{assignment_id}}/{{notebook}}.ipynb)")
    unknown = sorted({a for _, a, _ in subs if a != reference.ASSIGNMENT})
    if unknown:
        print(f"note: skipping submissions for unknown assignments: {', '.join(unknown)}", file=sys.stderr)
        subs = [s for s in subs if s[1] == reference.ASSIGNMENT]
    if not bwrap_available():
        print("WARNING: bubblewrap (bwrap) is not available: submissions run WITHOUT network isolation or "
              "hidden paths. Install the Debian/Ubuntu package 'bubblewrap'.", file=sys.stderr)
    limits = Limits(**{k: v for k, v in (("wall_s", wall_s), ("cell_s", cell_s)) if v})
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AUTOGRADE_CACHE", str((out / ".cache").resolve()))
    course = load_course(limits=limits, threads=max(1, (os.cpu_count() or 1) // max(1, jobs)))
    course.hidden = [str(Path(submitted).resolve()), str(out.resolve())]
    texts = read_submissions(subs)
    kept = ResultCache(cache_dir() / "results", course)
    reused = [] if regrade else [r for r in (kept.load(sid, text) for sid, text in texts) if r]
    if reused:
        done = {r["student_id"] for r in reused}
        texts = [(sid, text) for sid, text in texts if sid not in done]
        print(f"{len(reused)} submission(s) unchanged since they were last graded into {out}/: their results are "
              f"reused (--regrade grades them again)", file=sys.stderr)
    # While the first kernels start: nbgrader builds the gradebook, and the solution versions'
    # results are loaded (or computed) into the cache. Graded in this process, the judge waits for
    # them (judge.reference_data holds a lock); other processes read the finished disk cache.
    with ThreadPoolExecutor(max_workers=2) as pool:
        db_future = pool.submit(gradebook.create, out / "gradebook.db", out / ".release", reference.ASSIGNMENT)
        if texts:  # nothing to judge when every result is reused
            reference_future = pool.submit(_warm_reference, course)
            if jobs > 1 or scheduler:
                reference_future.result()
            graded = grade_all(texts, course, jobs=jobs, scheduler=scheduler)
            reference_future.result()
        else:
            graded = []
        db_url = db_future.result()
    text_of = dict(texts)
    for r in graded:
        kept.store(text_of[r["student_id"]], r)
    graded = sorted(graded + reused, key=lambda r: r["student_id"])
    results.write_csvs(graded, out)
    results.write_executed(graded, out)
    gradebook.record(db_url, graded)
    for r in graded:
        feedback.write_feedback(r, out)
    report.write_report(graded, out)
    return graded


def cmd_grade(args) -> int:
    _offline_defaults()
    t0 = time.monotonic()
    graded = grade_class(Path(args.submitted), Path(args.out), args.jobs, args.scheduler, args.timeout,
                         args.cell_timeout, args.regrade)
    _print_table(graded)
    print(f"graded {len(graded)} submission(s) in {time.monotonic() - t0:.1f} s -> {args.out}/"
          f" (grades.csv, cells.csv, gradebook.db, feedback/, report.html)")
    return _grader_failures(graded)


def _grader_failures(graded: list[dict]) -> int:
    """Exit status: 0 when every submission got a result (even a zero), 2 when the grader itself failed."""
    failed = [r["student_id"] for r in graded if r["status"] == "error"]
    if failed:
        print(f"ERROR: the grader could not run {len(failed)} submission(s): {', '.join(failed)}; "
              f"their rows say why. Fix the grader's set-up and grade again.", file=sys.stderr)
        return 2
    return 0


def _print_table(graded: list[dict]) -> None:
    from .results import total
    width = max([len("student")] + [len(r["student_id"]) for r in graded])
    print(f"{'student':<{width}}  {'score':>11}  note")
    for r in graded:
        score, max_score = total(r)
        named = sorted({c["mistake"] for c in r["cells"] if c.get("mistake")})
        note = r["message"] if r["status"] != "ok" else (", ".join(named) if named else "")
        print(f"{r['student_id']:<{width}}  {score:5.2f}/{max_score:<5.1f}  {note[:90]}")


def cmd_check(args) -> int:
    _offline_defaults()
    from .selfcheck import self_check
    outcomes = self_check(Path(args.notebook))
    for exercise, (passed, message) in outcomes.items():
        print(f"{'PASS' if passed else 'FAIL'}  {exercise:<15} {'' if passed else message}")
    failed = sum(not p for p, _ in outcomes.values())
    print(f"{len(outcomes) - failed} of {len(outcomes)} exercises pass their visible checks.")
    return 1 if failed else 0


def cmd_kit(args) -> int:
    from .kit import write_kit
    target = write_kit(Path(args.out))
    print(f"wrote {target}: the lesson, miniai and the self-check, without the solutions. Give students this, "
          f"not the repository.")
    return 0


def cmd_demo(args) -> int:
    _offline_defaults()
    out = Path(args.out)
    from .release import release
    print("1. Releasing the lesson from solutions/ (nbgrader generate_assignment) ...")
    for path in release():
        print(f"   wrote {path.relative_to(reference.REPO_ROOT)}")
    print(f"2. Grading the sample class in {SAMPLES_DIR.relative_to(reference.REPO_ROOT)}/ ...")
    if out.exists():
        shutil.rmtree(out / "feedback", ignore_errors=True)
    t0 = time.monotonic()
    graded = grade_class(SAMPLES_DIR, out, jobs=args.jobs)
    print(f"3. Grades ({time.monotonic() - t0:.1f} s):")
    _print_table(graded)
    print(f"Feedback pages: {out}/feedback/<student>/{reference.ASSIGNMENT}/{reference.ASSIGNMENT}.html")
    print(f"Class report:   {out}/report.html    Gradebook: {out}/gradebook.db    CSVs: {out}/grades.csv, {out}/cells.csv")
    return _grader_failures(graded)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="autograde", description="Grade the accelerated-SGD lesson with nbgrader.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("release", help="regenerate lessons/ (and the visible checks' expectations) from solutions/")
    g = sub.add_parser("grade", help="grade a folder laid out as submitted/{student}/{assignment}/{nb}.ipynb")
    g.add_argument("submitted")
    g.add_argument("--out", required=True)
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at once on this machine")
    g.add_argument("--scheduler", help="address of a Dask scheduler to grade on (e.g. tcp://host:8786)")
    g.add_argument("--timeout", type=float, help="wall-clock seconds per submission (default 300)")
    g.add_argument("--cell-timeout", type=float, help="seconds per cell (default 60)")
    g.add_argument("--regrade", action="store_true",
                   help="grade every submission again, even those unchanged since the last grading into --out")
    c = sub.add_parser("check", help="run the visible checks on your notebook before you submit")
    c.add_argument("notebook")
    k = sub.add_parser("kit", help="pack what students get (lesson, miniai, self-check; no solutions) into a zip")
    k.add_argument("--out", default=str(reference.REPO_ROOT / "dist"))
    d = sub.add_parser("demo", help="release the lesson and grade the bundled sample class")
    d.add_argument("--out", default=str(reference.REPO_ROOT / "out" / "demo"))
    d.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = p.parse_args(argv)
    handler = {"release": cmd_release, "grade": cmd_grade, "check": cmd_check, "kit": cmd_kit,
               "demo": cmd_demo}[args.cmd]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except ImportError:
        if not _is_student_kit():
            raise
        print(f"autograde {args.cmd} is for instructors and needs the course repository; this installation "
              f"is the student kit, which has only `autograde check`.", file=sys.stderr)
        return 2


def _is_student_kit() -> bool:
    """The student kit (autograde/kit.py) ships only what `autograde check` needs."""
    return not Path(__file__).with_name("judge.py").exists()


def run() -> None:
    """The console script."""
    exit_fast(main())


def exit_fast(code: int) -> None:
    """Every file is written and closed when main() returns: skip the interpreter's teardown of
    torch, pyarrow and friends, 1-1.5 s that every command would wait for."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
