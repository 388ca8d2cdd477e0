"""nbgrader's own `nbgrader autograde` with the course's engine (serial) beside `autograde grade`, one run.

The course's nbgrader_config.py puts the grader's engine into nbgrader's pipeline
(autograde/nbgrader_engine.py). This grades the sample class (autograde/samples/) in a copy of the
course, in a temp dir, and measures side by side:

  (0) `autograde grade --jobs 1`, cold: it also trains the solution's short runs (reference cache);
      not compared, it only warms that cache for the runs below;
  (1) `nbgrader autograde accel_sgd --force` (the engine, one notebook at a time), kept results
      removed first so every notebook is graded;
  (2) `autograde grade --regrade --jobs 1` and (3) `--jobs 2`, the same engine with the next kernel
      started ahead and in parallel;
  (4) `nbgrader autograde accel_sgd --force` again, nothing changed: the results (2) and (3) kept are reused.

and checks that (1) and (2) gave every graded cell the same auto_score and comment.

    python bench/nbgrader_engine.py [--students N] [--quick] [--keep DIR] [--markdown FILE]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

ASSIGNMENT = "accel_sgd"
COURSE_ID = "accel_sgd_course"  # nbgrader_config.py


def make_course(dest: Path, students: int) -> list[str]:
    """A copy of the course with the first N sample students in submitted/."""
    dest.mkdir(parents=True)
    shutil.copy(common.REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    for folder in ("solutions", "lessons"):
        shutil.copytree(common.REPO / folder, dest / folder)
    samples = common.REPO / "autograde" / "samples"
    ids = sorted(p.name for p in samples.iterdir() if (p / ASSIGNMENT).is_dir())[:students]
    for sid in ids:
        shutil.copytree(samples / sid, dest / "submitted" / sid)
    return ids


def gradebook_state(course: Path, ids: list[str]) -> dict:
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        state = {}
        for sid in ids:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, sid)
            state[sid] = ({g.name: g.auto_score for g in nb.grades}, {c.name: c.auto_comment for c in nb.comments})
        return state


def timed(label: str, cmd: list, course: Path, env: dict) -> float:
    wall, proc = common.timed_run(cmd, env=env, cwd=course, log=course.parent / f"{label}.log")
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed, rc {proc.returncode}:\n{common.tail(proc.stderr, 30)}")
    print(f"  {label}: {wall:.1f} s", flush=True)
    return wall


def measure(work: Path, students: int, markdown: str | None, quick: bool = False) -> int:
    print(common.machine_line())
    course = work / "course"
    ids = make_course(course, students)
    env = common.bench_env(drop=("AUTOGRADE_CACHE", "AUTOGRADE_SOLUTIONS"))  # the course's grader/cache/
    py = [sys.executable]
    n = len(ids)
    print(f"sample class: {n} students ({', '.join(ids)})")
    timed("release", [*py, "-m", "autograde.cli", "release"], course, env)
    cold = timed("autograde_grade_cold", [*py, "-m", "autograde.cli", "grade", "--jobs", "1"], course, env)
    shutil.rmtree(course / "grader" / "cache" / "results")  # keep the reference runs, drop the kept results
    engine = timed("nbgrader_autograde", [*py, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], course, env)
    by_nbgrader = gradebook_state(course, ids)
    j1 = timed("autograde_grade_jobs1", [*py, "-m", "autograde.cli", "grade", "--regrade", "--jobs", "1"], course, env)
    by_autograde = gradebook_state(course, ids)
    j2 = again = None
    if not quick:
        j2 = timed("autograde_grade_jobs2", [*py, "-m", "autograde.cli", "grade", "--regrade", "--jobs", "2"], course, env)
        again = timed("nbgrader_autograde_again", [*py, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], course,
                      env)
    same = sum(by_nbgrader[sid] == by_autograde[sid] for sid in ids)

    rows = [
        ["`nbgrader autograde accel_sgd --force` with the course's engine (serial)", engine, n, engine / n, "1.00x"],
        ["`autograde grade --regrade --jobs 1`", j1, n, j1 / n, f"{engine / j1:.2f}x"],
    ]
    if not quick:
        rows += [["`autograde grade --regrade --jobs 2`", j2, n, j2 / n, f"{engine / j2:.2f}x"],
                 ["`nbgrader autograde accel_sgd --force` again, nothing changed (kept results reused)", again, n,
                  again / n, f"{engine / again:.2f}x"]]
    body = "\n".join([
        f"Measured on: {common.machine_line()}.", "",
        f"Class: the sample class (autograde/samples/, {n} students) in a copy of the course; every run grades into "
        f"the course folder with the solution's reference runs already cached (a first, cold `autograde grade "
        f"--jobs 1` trained them: {cold:.1f} s, not compared).", "",
        common.md_table(["run", "wall (s)", "submissions", "s / submission", "speed-up vs nbgrader's command"], rows),
        "",
        f"Same grade: `nbgrader autograde` and `autograde grade` gave every graded cell the same auto_score and "
        f"comment for {same} of {n} students.",
    ])
    common.emit(common.section("nbgrader's own command with the course's engine", "python bench/nbgrader_engine.py",
                               body), markdown)
    return 0 if same == n else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=6, help="the first N sample students (default: all 6)")
    p.add_argument("--quick", action="store_true", help="only (0), (1) and (2)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR (kept) instead of a temp dir")
    common.add_markdown_arg(p)
    args = p.parse_args()
    common.set_offline()
    if args.keep:
        work = Path(args.keep)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        return measure(work, args.students, args.markdown, args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-engine-") as tmp:
        return measure(Path(tmp), args.students, args.markdown, args.quick)


if __name__ == "__main__":
    sys.exit(main())
