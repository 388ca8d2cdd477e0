"""Build the demo's sample class (autograde/samples/) from the released lesson.

Each student starts from lessons/accel_sgd/accel_sgd.ipynb, as a real student does, and fills in
answers: the solution versions, the catalogued mistakes (autograde/mistakes.py), a cheat, a broken
notebook and an untouched one. Run after `autograde release`:  python tools/make_samples.py
"""
import argparse
import copy
import shutil

import nbformat

from autograde import paths
from autograde.trusted import mistakes, solution as reference

ROOT = paths.REPO_ROOT
LESSON = ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
SAMPLES = ROOT / "autograde" / "samples"

WRITTEN = {
    "written_wd_vs_l2": "For plain SGD they are the same step. They differ once the optimizer rescales the "
                        "gradient: with Adam the L2 term is divided by sqrt(v) too, so heavily-updated weights "
                        "are barely decayed; decoupled decay shrinks every weight by lr*wd regardless.",
    "written_adam_eps": "The averages start at zero, so early on they underestimate; dividing by 1-beta^t fixes "
                        "that. eps only matters when the squared-gradient average is around eps or smaller.",
}

CHEAT = '''# "Make every test pass"
import numpy as np, torch
np.allclose = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
import autograde.visible, autograde.visible.probe
autograde.visible.check = lambda *a, **k: print("passed")
autograde.visible.probe.probe = lambda *a, **k: print("passed")
'''


def fill(nb, answers: dict, extra_after_setup: str | None = None):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    if extra_after_setup:
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(extra_after_setup))
    return nb


def with_mistakes(*keys) -> dict:
    sources = reference.solution_sources()
    for key in keys:
        sources = mistakes.variant_sources(mistakes.BY_KEY[key], sources)
    return sources


def main():
    lesson = nbformat.read(LESSON, as_version=4)
    sol = reference.solution_sources()
    students = {
        "alice": fill(lesson, {**sol, **WRITTEN}),
        "bob": fill(lesson, {**with_mistakes("adam_eps_outside", "momentum_undampened"), **WRITTEN}),
        "carol": fill(lesson, with_mistakes("rmsprop_zero_init", "recorder_not_reset", "sched_steps_in_validation")),
        "dave": fill(lesson, {"sgd": sol["sgd"].replace("p -= self.lr * p.grad", "pass")}, extra_after_setup=CHEAT),
        "erin": fill(lesson, {**sol,
                              "momentum": sol["momentum"].replace("def opt_step(self, p):", "def opt_step(self, p)"),
                              "epoch_sched_cb": "import os\nos._exit(1)  # oops\n"}),
        "frank": lesson,
    }
    if SAMPLES.exists():
        for d in SAMPLES.iterdir():
            if d.is_dir():
                shutil.rmtree(d)
    for i, (sid, nb) in enumerate(students.items()):
        path = SAMPLES / sid / "accel_sgd" / "accel_sgd.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        # What nbgrader's submit leaves beside the notebook: fixed, one day apart, so the demo is repeatable.
        (path.parent / "timestamp.txt").write_text(f"2026-11-{21 + i} {11 + i}:{1 + i:02d}:00.000000 UTC")
        print(f"wrote {path.relative_to(ROOT)} and its timestamp.txt")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0],
                            epilog=f"Rewrites every student folder under {SAMPLES.relative_to(ROOT)}/.").parse_args()
    main()
