"""What starting the next kernel ahead buys: one class graded at --jobs 1 with and without it.

With it (the default, autograde/running/ahead.py), each submission's kernel is started, and runs the
course's opening cells, while the submission before it runs; the two kernels then share the cores
(classgrade.kernel_threads: 1 torch thread each on 2 cores). Without it (as before) every kernel
starts when its submission's turn comes and has all the cores. Same process, same class (bench/grading.py's mix, first --class-size), same
warm reference cache; the two ways take turns for --rounds rounds so that a change in the machine's
load hits both alike, and the scores must be identical.

    python bench/start_ahead.py [--class-size N] [--rounds R] [--markdown FILE]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import grading


def grade_class(texts, course, start_ahead: bool) -> tuple[float, dict]:
    from autograde.running import ahead
    from autograde.trusted import grade
    real_start = ahead.start
    if not start_ahead:
        ahead.start = lambda *args, **kwargs: None  # nothing is started ahead: each kernel at its turn
    try:
        t0 = time.monotonic()
        results = grade.grade_all(texts, course, jobs=1)
        wall = time.monotonic() - t0
    finally:
        ahead.start = real_start
    return wall, {r.student_id: [c.score for c in r.cells] for r in results}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--class-size", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2)
    common.add_markdown_arg(p)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="start-ahead-"))
    made = grading.build_class(work / "submitted", args.class_size)
    texts = [(sid, (work / "submitted" / sid / "accel_sgd" / "accel_sgd.ipynb").read_text()) for sid, _ in made]
    from autograde.trusted import grade
    from autograde.classgrade import kernel_threads
    cores = os.cpu_count() or 1
    cache = work / "cache"
    courses = {True: grade.load_setup(cache=cache, threads=kernel_threads(cores, 1, len(texts))),
               False: grade.load_setup(cache=cache, threads=cores)}
    grade._warm_reference(courses[True])
    walls: dict[bool, list[float]] = {True: [], False: []}
    scores = {}
    for r in range(args.rounds):
        for ahead in (True, False):
            wall, scores[ahead, r] = grade_class(texts, courses[ahead], ahead)
            walls[ahead].append(wall)
            print(f"round {r + 1}, {'started ahead' if ahead else 'started at its turn'}: {wall:.1f} s "
                  f"({wall / len(texts):.2f} s a submission)", flush=True)
    same = len({repr(s) for s in scores.values()}) == 1
    n = len(texts)
    med = {a: common.median(w) for a, w in walls.items()}
    rows = [[(f"started ahead, {courses[a].threads} thread(s) each (the default)" if a else
              f"each kernel started at its turn, {courses[a].threads} thread(s) (before)"),
             " / ".join(f"{w:.1f}" for w in walls[a]), f"{med[a]:.1f}", f"{med[a] / n:.2f}"] for a in (True, False)]
    md = (f"Measured on: {common.machine_line()}.\n\n"
          f"A class of {n} (bench/grading.py's mix) graded in one process at --jobs 1, {args.rounds} rounds taking "
          f"turns, reference cache warm.\n\n"
          + common.md_table(["kernels", "wall per round (s)", "median (s)", "s / submission"], rows)
          + f"\n\nStarted ahead: **{med[False] / med[True]:.2f}x** as fast. Scores identical in every round: "
          f"**{'yes' if same else 'NO'}**.\n")
    common.emit(md, args.markdown)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
