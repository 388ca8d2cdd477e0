"""The student's self-check: `autograde check NOTEBOOK` on a finished notebook, wall seconds (median).

    python bench/selfcheck.py [--notebook PATH] [--repeats N] [--quick]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DEFAULT_NB = common.REPO / "autograde" / "samples" / "alice" / "accel_sgd" / "accel_sgd.ipynb"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebook", default=str(DEFAULT_NB))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="accepted for run_all.py; the check is already quick")
    common.add_markdown_arg(p)
    args = p.parse_args()
    nb = Path(args.notebook).resolve()
    print(common.machine_line())
    cmd = [common.VENV_BIN / "autograde", "check", nb]
    walls, last = [], None
    for i in range(args.repeats):
        wall, proc = common.timed_run(cmd, env=common.bench_env())
        walls.append(wall)
        last = proc
        print(f"  run {i + 1}: {wall:.1f} s, exit {proc.returncode}", flush=True)
    summary = next((ln for ln in reversed(last.stdout.splitlines()) if "exercises pass" in ln), "").strip()
    try:
        shown = nb.relative_to(common.REPO)
    except ValueError:
        shown = nb
    md = "\n".join([
        f"Measured on: {common.machine_line()}.",
        "",
        common.md_table(["command", "runs (s)", "median (s)", "result"],
                        [[f"`autograde check {shown}`", ", ".join(f"{w:.1f}" for w in walls),
                          f"{common.median(walls):.1f}", summary or f"exit {last.returncode}"]], align="lrrl"),
        "",
        "Wall time of the whole command: process start, a sandboxed kernel running the setup cell, the answer "
        "cells and the visible checks (no data loading, no training runs).",
    ])
    if last.returncode != 0:
        md += f"\n\nThe last run exited {last.returncode}:\n\n```\n{common.tail(last.stdout + last.stderr)}\n```"
    common.emit(md, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
