"""Calibrating the short-run tolerance: how far correct variants and catalogued mistakes drift.

For every optimizer exercise, trains the course model briefly (visible/lessons/accel_sgd/runs.py: short_run) with the
solution, with correct variants written differently (tests/corpus.py) and with each catalogued
mistake, and prints the largest relative loss-curve gap and the accuracy gap against the solution,
beside the judge's tolerances. Correct variants must sit far below them, mistakes far above.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from autograde.visible import lesson as lessons
from autograde.trusted import judge, mistakes, solution as reference
from autograde.trusted.lessons.accel_sgd import judges  # the run judge's tolerances and curve gap
from corpus import CORRECT_VARIANTS, variant_sources


def main():
    rows = []
    for tid, spec in lessons.current().tests_by_id.items():
        if spec.judge != "run":
            continue
        want = judge.reference_data(tid)
        cname = spec.classes[0]
        candidates = [(f"correct: {name}", reference.solution_classes(variant_sources(ans))[cname])
                      for name, ans in CORRECT_VARIANTS.items() if spec.exercise in ans]
        candidates += [(f"mistake: {m.key}", mistakes.variant_classes(m.key)[cname])
                       for m in mistakes.affecting(spec.exercise, spec.classes)]
        for label, cls in candidates:
            got = lessons.current().collect(tid, cls)
            if "error" in got:
                rows.append((tid, label, float("inf"), float("inf"), "error"))
                continue
            gap, _ = judges.curve_gap(got["losses"], want["losses"])
            acc_gap = abs(got["accuracy"] - want["accuracy"])
            verdict = judge.judge(tid, got)
            rows.append((tid, label, gap, acc_gap, "pass" if verdict.score == 1 else "FAIL"))
    print(f"tolerances: loss-curve gap <= {judges.RUN_LOSS_TOL}, accuracy gap <= {judges.RUN_ACC_TOL}\n")
    print("| test | submission | max loss-curve gap | accuracy gap | verdict |")
    print("|---|---|---|---|---|")
    for tid, label, gap, acc_gap, v in rows:
        print(f"| {tid} | {label} | {gap:.2e} | {acc_gap:.3f} | {v} |")


if __name__ == "__main__":
    main()
