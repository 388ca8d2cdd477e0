"""What fair grading costs: a kernel restart after a crash, and the retest over the solution's parents.

    python bench/restarts.py [--rounds 2] [--markdown FILE]

Grades, one at a time in this process (as `--jobs 1` does), submissions built from the released lesson:
a correct one (pays nothing extra), one whose Momentum cell kills the kernel (one restart), one that kills
the kernel in every answer cell (a restart per answer, bounded by the wall limit), and one with a
catalogued SGD mistake (its Momentum/RMSProp/Adam tests are run again over the course's SGD). Rounds are
taken in turns across the submissions, so load changes on a shared machine hit all of them alike.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import common
from autograde import paths


def submissions() -> dict:
    import nbformat
    from autograde.trusted import solution as reference
    from corpus import mistake_sources, notebook_with
    lesson = nbformat.read(paths.REPO_ROOT / "lessons" / paths.ASSIGNMENT / f"{paths.ASSIGNMENT}.ipynb",
                           as_version=4)
    sol = reference.solution_sources()
    crash = "import os; os._exit(1)"
    return {
        "correct": notebook_with(lesson, sol),
        "kernel dies in Momentum": notebook_with(lesson, {**sol, "momentum": crash}),
        "kernel dies in every answer": notebook_with(lesson, {e: crash for e in sol}),
        "SGD mistake (retest over the course's SGD)": notebook_with(lesson, mistake_sources("sgd_l2_not_decay")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    common.add_markdown_arg(parser)
    args = parser.parse_args()
    common.set_offline()
    import nbformat
    from autograde import classgrade  # noqa: F401 (the grading modules, imported before timing)
    from autograde.trusted.grade import _warm_reference, grade_submission, load_setup
    from autograde.running.sandbox import Limits
    course = load_setup(limits=Limits(wall_s=300, cell_s=60))
    _warm_reference(course)
    subs = {name: nbformat.writes(nb) for name, nb in submissions().items()}
    seconds: dict[str, list[float]] = {name: [] for name in subs}
    outcome: dict[str, tuple] = {}
    for _ in range(args.rounds):
        for name, text in subs.items():
            t0 = time.perf_counter()
            result = grade_submission(course, "bench", text)
            seconds[name].append(time.perf_counter() - t0)
            cells = result["cells"]
            score = sum(c["score"] or 0 for c in cells if c["auto"])
            outcome[name] = (score, sum(c["max_score"] for c in cells if c["auto"]), result["status"],
                             result.get("timings", {}).get("retest"))
            print(f"{name}: {seconds[name][-1]:.1f} s, {score:.2f} points, status {result['status']}", flush=True)
    base = common.median(seconds["correct"])
    rows = []
    for name, xs in seconds.items():
        score, max_score, status, retest = outcome[name]
        rows.append([name, common.fmt_s(common.median(xs)), f"{common.median(xs) / base:.2f}x",
                     f"{score:.2f} / {max_score:g}", status, "–" if retest is None else common.fmt_s(retest)])
    table = common.md_table(["submission", "s (median)", "vs correct", "autograded score", "status",
                             "retest s"], rows)
    body = (f"Measured on: {common.machine_line()}.\n\nEach submission graded alone by `grade_submission` "
            f"(as `--jobs 1` does), {args.rounds} round(s) taken in turns, wall limit 300 s, cell limit 60 s.\n\n"
            f"{table}\n\nOnly submissions that crash pay for restarts, and only those with a wrong parent class "
            f"pay for the retest.\n")
    common.emit(body, args.markdown)
    Path(common.OUT / "bench").mkdir(parents=True, exist_ok=True)
    (common.OUT / "bench" / "restarts.json").write_text(json.dumps({"seconds": seconds, "outcome": outcome}))


if __name__ == "__main__":
    main()
