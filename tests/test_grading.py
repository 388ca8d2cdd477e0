"""Grading a class end to end: real nbgrader gradebook, real kernels in the sandbox, real data.

One class (the public corpus: correct variants, mistakes, cheats, faults) is graded once per test
session with `autograde grade --jobs 2`; the tests then read its outputs.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde import paths
from autograde import classgrade
from autograde.trusted import mistakes, solution as reference
from autograde.course import load as course_folder
from autograde.trusted.grade import grade_submission, load_setup
from autograde.running.sandbox import Limits, bwrap_available
from corpus import CORRECT_VARIANTS, mistake_sources, notebook_with, variant_sources

pytestmark = pytest.mark.slow  # grades a class, builds a venv or kills a grader: `make test-fast` leaves it out

LESSON = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
AUTO_MAX = 20.0  # points of the autograded test cells
WRITTEN = ("written_wd_vs_l2", "written_adam_eps")

CHEAT_PATCHES = """
import numpy as np, torch, torch.testing
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
import fastcore.test
fastcore.test.test_close = lambda *a, **k: None
import autograde.visible.compare, autograde.visible.probe, autograde.visible
autograde.visible.compare.agrees = lambda *a, **k: True
autograde.visible.compare.traj_difference = lambda *a, **k: None
autograde.visible.check = lambda *a, **k: print('all good')
"""

FORGE_PROBES = """
import json, os, pathlib
probe_dir = pathlib.Path(os.environ.get('AUTOGRADE_PROBE_DIR', '/nonexistent'))
expected = json.loads((pathlib.Path(autograde.visible.__file__).parent / 'lessons' / 'accel_sgd' / 'expected.json').read_text())
for test_id in ['test_sgd_small', 'test_momentum_small', 'test_adam_small', 'test_recorder_cb']:
    exercise = test_id[5:].replace('_small', '')
    (probe_dir / f'{test_id}.json').write_text(json.dumps(expected[exercise]['expected']))
import autograde.visible.probe
autograde.visible.probe.probe = lambda *a, **k: print('skipped')
"""

READ_SOLUTIONS = """
import glob, json, pathlib, autograde

repo = pathlib.Path(autograde.__file__).parent.parent
found = sorted(glob.glob(str(repo / 'solutions' / '*' / '*.ipynb')) + glob.glob(str(repo / 'autograde' / 'mistakes.py')))
print('found', found)
for path in found[:1]:  # run the solution cells, if they could be read
    for cell in json.loads(pathlib.Path(path).read_text())['cells']:
        if cell['cell_type'] == 'code': exec(''.join(cell['source']).replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))
"""


def _tamper_metadata(nb):
    kept = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if gid.startswith("test_momentum"):
            continue  # deleted test cells
        if gid.startswith("test_"):
            cell.metadata["tags"] = ["skip-execution", "raises-exception"]
            meta["grade"] = False  # flipped grade flag (nbgrader would abort on the checksum)
            meta["points"] = 0
            cell.source = "pass"
        if gid == "setup":
            cell.source += "\nraise SystemExit('stop')"
        kept.append(cell)
    nb.cells = kept


def _class():
    lesson = nbformat.read(LESSON, as_version=4)
    sol = reference.solution_sources()
    broken_rmsprop = sol["rmsprop"].replace("def opt_step(self, p):", "def opt_step(self, p)")
    return {
        "correct": notebook_with(lesson, sol),
        **{f"variant_{k}": notebook_with(lesson, variant_sources(v)) for k, v in CORRECT_VARIANTS.items()},
        "mistake_adam_eps": notebook_with(lesson, mistake_sources("adam_eps_outside")),
        "mistake_sched_valid": notebook_with(lesson, mistake_sources("sched_steps_in_validation")),
        "mistake_recorder": notebook_with(lesson, mistake_sources("recorder_not_reset")),
        "mistake_sgd_decay": notebook_with(lesson, mistake_sources("sgd_l2_not_decay")),
        "unfilled": lesson,
        "cheat_patches": notebook_with(lesson, {}, extra_cells=[(3, CHEAT_PATCHES + FORGE_PROBES)]),
        "cheat_metadata": notebook_with(lesson, {}, edit=_tamper_metadata),
        "cheat_read_solutions": notebook_with(lesson, {}, extra_cells=[(3, READ_SOLUTIONS)]),
        # HasLearnCB runs in two cells only (its check and its hidden test): two cell timeouts, not four
        "fault_infinite_loop": notebook_with(lesson, {**sol, "has_learn_cb": sol["has_learn_cb"].replace(
            "self.learn = learn", "while True: pass")}),
        "fault_os_exit": notebook_with(lesson, {**sol, "epoch_sched_cb": "import os; os._exit(3)"}),
        "fault_os_exit_momentum": notebook_with(lesson, {**sol, "momentum": "import os; os._exit(1)"}),
        "fault_memory_bomb": notebook_with(lesson, {**sol, "adam": sol["adam"] + "\nhog = [bytearray(2**28) for _ in range(10**4)]\n"}),
        "fault_syntax_error": notebook_with(lesson, {**sol, "rmsprop": broken_rmsprop}),
        "fault_huge_print": notebook_with(lesson, {**sol, "momentum": sol["momentum"] + "\nprint('x' * 10_000_000)\n"}),
    }


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Grade the corpus class once with the real command line (2 jobs)."""
    root = tmp_path_factory.mktemp("class")
    submitted, out = root / "submitted", root / "out"
    for sid, nb in _class().items():
        path = submitted / sid / "accel_sgd" / "accel_sgd.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nbformat.from_dict(nb), path)
    unreadable = submitted / "fault_unreadable" / "accel_sgd" / "accel_sgd.ipynb"
    unreadable.parent.mkdir(parents=True)
    unreadable.write_text('{"cells": [ {"cell_type": "code", "source": "trunc')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(submitted), "--out", str(out),
                           "--jobs", "2", "--timeout", "240", "--cell-timeout", "20"],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = {r["student_id"]: r for r in csv.DictReader(open(out / "grader" / "grades.csv"))}
    cells = {}
    for r in csv.DictReader(open(out / "grader" / "cells.csv")):
        cells.setdefault(r["student_id"], {})[r["grade_id"]] = r
    return {"out": out, "grades": grades, "cells": cells, "stdout": proc.stdout, "submitted": submitted}


def auto_score(graded, sid) -> float:
    return sum(float(c["score"]) for c in graded["cells"][sid].values() if c["grade_id"] not in WRITTEN)


def failed_tests(graded, sid) -> set:
    return {g for g, c in graded["cells"][sid].items() if g not in WRITTEN and float(c["score"]) < float(c["max_score"])}


def test_every_submission_gets_a_result(graded):
    assert set(graded["grades"]) == set(_class()) | {"fault_unreadable"}
    for row in graded["grades"].values():
        assert float(row["max_score"]) == AUTO_MAX + 4


@pytest.mark.parametrize("sid", ["correct", *(f"variant_{k}" for k in CORRECT_VARIANTS)])
def test_correct_submissions_get_full_marks(graded, sid):
    assert auto_score(graded, sid) == AUTO_MAX
    assert all(c["message"] == "" for g, c in graded["cells"][sid].items() if g not in WRITTEN)


@pytest.mark.parametrize("sid,mistake,tests", [
    ("mistake_adam_eps", "adam_eps_outside", {"test_adam_small", "test_adam_run"}),
    ("mistake_sched_valid", "sched_steps_in_validation", {"test_base_sched_cb"}),
    ("mistake_sgd_decay", "sgd_l2_not_decay", {"test_sgd_small"}),
    ("mistake_recorder", "recorder_not_reset", {"test_recorder_cb"}),
])
def test_mistakes_lose_points_and_are_named(graded, sid, mistake, tests):
    assert failed_tests(graded, sid) == tests
    name = mistakes.BY_KEY[mistake].name
    small = [c for g, c in graded["cells"][sid].items() if g in tests and not g.endswith("_run")]
    assert all(name in c["message"] for c in small)


def test_a_base_class_mistake_is_charged_once_and_the_feedback_says_so(graded):
    """SGD's L2-instead-of-decay broke Momentum, RMSProp and Adam too; they are graded over the course's SGD."""
    cells = graded["cells"]["mistake_sgd_decay"]
    for test_id in ["test_momentum_small", "test_rmsprop_small", "test_adam_small"]:
        assert cells[test_id]["message"].startswith("Graded over the course's SGD, because your SGD lost points")


def test_a_zero_says_why_in_the_grade_table(graded):
    lines = {line.split()[0]: line for line in graded["stdout"].splitlines() if line.strip()}
    assert lines["unfilled"].endswith("no answer filled in")
    assert lines["cheat_patches"].endswith("no answer filled in")  # a cheat cell, but no answer


def test_a_replaced_probe_is_named_in_the_message_of_every_test_it_silenced(graded):
    forged = {"test_sgd_small", "test_momentum_small", "test_adam_small", "test_recorder_cb"}  # see FORGE_PROBES
    for test_id, cell in graded["cells"]["cheat_patches"].items():
        if test_id not in set(WRITTEN) | forged:
            assert "recorded nothing: code in your notebook replaced or bypassed the grader's helpers" in cell["message"]
    assert "is malformed (cases has unexpected key 'public:" in graded["cells"]["cheat_patches"]["test_sgd_small"]["message"]


def test_the_unfilled_lesson_scores_zero(graded):
    assert auto_score(graded, "unfilled") == 0.0
    assert "NotImplementedError" in graded["cells"]["unfilled"]["test_sgd_small"]["message"]


@pytest.mark.parametrize("sid", ["cheat_patches", "cheat_metadata", "cheat_read_solutions"])
def test_cheats_gain_nothing(graded, sid):
    assert auto_score(graded, sid) == 0.0


def test_deleted_and_retagged_test_cells_are_restored_and_run(graded):
    cells = graded["cells"]["cheat_metadata"]
    assert {"test_momentum_small", "test_momentum_run", "test_sgd_small"} <= set(cells)
    assert float(cells["test_sgd_small"]["max_score"]) == 2.0


def test_an_infinite_loop_costs_only_its_own_tests(graded):
    assert failed_tests(graded, "fault_infinite_loop") == {"test_has_learn_cb"}
    assert "timed out" in graded["cells"]["fault_infinite_loop"]["test_has_learn_cb"]["message"]


@pytest.mark.parametrize("sid,exercise,tests", [
    ("fault_os_exit", "EpochSchedCB", {"test_epoch_sched_cb"}),
    ("fault_os_exit_momentum", "Momentum", {"test_momentum_small", "test_momentum_run"}),
])
def test_a_cell_that_kills_the_kernel_costs_only_its_own_exercise(graded, sid, exercise, tests):
    # The kernel is restarted and the notebook runs again without that cell (issue 9.3).
    cells = graded["cells"][sid]
    assert failed_tests(graded, sid) == tests
    assert auto_score(graded, sid) == AUTO_MAX - sum(float(cells[t]["max_score"]) for t in tests)
    assert all(f"Your {exercise} cell failed (the kernel died)" in cells[t]["message"] for t in tests)
    page = (graded["out"] / "feedback" / sid / "accel_sgd" / "accel_sgd.html").read_text()
    assert "it was restarted and the notebook ran again without that cell" in page


def test_a_memory_bomb_is_stopped_and_graded(graded):
    executed = (graded["out"] / "autograded" / "fault_memory_bomb" / "accel_sgd" / "accel_sgd.ipynb").read_text()
    assert "MemoryError" in executed or "died" in graded["cells"]["fault_memory_bomb"]["test_adam_small"]["message"]
    assert float(graded["cells"]["fault_memory_bomb"]["test_sgd_small"]["score"]) == 2.0


def test_a_syntax_error_costs_that_exercise_and_its_subclasses_only(graded):
    failed = failed_tests(graded, "fault_syntax_error")
    assert failed == {"test_rmsprop_small", "test_rmsprop_run"}
    assert "SyntaxError" in graded["cells"]["fault_syntax_error"]["test_rmsprop_small"]["message"]


def test_a_huge_print_is_truncated_not_fatal(graded):
    assert auto_score(graded, "fault_huge_print") == AUTO_MAX
    executed = json.loads((graded["out"] / "autograded" / "fault_huge_print" / "accel_sgd" / "accel_sgd.ipynb").read_text())
    assert max(len(json.dumps(c.get("outputs", []))) for c in executed["cells"]) < 100_000


def test_an_unreadable_notebook_gets_a_zero_and_a_reason(graded):
    assert float(graded["grades"]["fault_unreadable"]["total"]) == 0.0
    assert "not a readable Jupyter notebook" in graded["cells"]["fault_unreadable"]["test_sgd_small"]["message"]


def test_outputs_exist_for_every_student(graded):
    out = graded["out"]
    for sid in graded["grades"]:
        assert (out / "feedback" / sid / "accel_sgd" / "accel_sgd.html").is_file()
    assert (out / "grader" / "report.html").is_file()


def test_nbgrader_reads_the_gradebook(graded, tmp_path):
    db = graded["out"] / "gradebook.db"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--db=sqlite:///{db}",
                           f"--to={tmp_path / 'export.csv'}"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "export.csv"))}
    assert float(rows["correct"]["raw_score"]) == AUTO_MAX
    assert float(rows["unfilled"]["raw_score"]) == 0.0


def test_grading_is_deterministic_across_jobs_and_runs(graded):
    setup = load_setup(limits=Limits(wall_s=240, cell_s=20))
    for sid in ["mistake_adam_eps", "variant_inplace_ops"]:
        text = (graded["submitted"] / sid / "accel_sgd" / "accel_sgd.ipynb").read_text()
        again = grade_submission(setup, sid, text)
        assert {c["grade_id"]: (str(c["score"]) if c["score"] is not None else "", c["message"])
                for c in again["cells"]} == {g: (c["score"], c["message"]) for g, c in graded["cells"][sid].items()}


def test_kernels_started_ahead_grade_as_fresh_ones(graded, monkeypatch):
    """At --jobs 1 every submission after the first runs on the kernel started while the one before
    it ran; the grades are those of the class graded with fresh kernels in two processes."""
    from autograde.running import ahead
    from autograde.trusted import grade
    on_kernel_started_ahead, run_notebook = [], grade.run_notebook

    def recording(nb, *args, **kw):
        result = run_notebook(nb, *args, **kw)
        if "started" in kw:  # the submission's own run, not a retest
            on_kernel_started_ahead.append(result.started_ahead)
        return result
    monkeypatch.setattr(grade, "run_notebook", recording)
    sids = ["mistake_adam_eps", "variant_inplace_ops"]
    texts = [(sid, (graded["submitted"] / sid / "accel_sgd" / "accel_sgd.ipynb").read_text()) for sid in sids]
    results = grade.grade_all(texts, load_setup(limits=Limits(wall_s=240, cell_s=20)), jobs=1)
    assert on_kernel_started_ahead == [False, True]
    assert ahead.take() is None  # the last submission started no kernel after it
    for r in results:
        assert {c.grade_id: (str(c.score) if c.score is not None else "", c.message) for c in r.cells} == \
            {g: (c["score"], c["message"]) for g, c in graded["cells"][r.student_id].items()}


@pytest.mark.skipif(not bwrap_available(), reason="bubblewrap (bwrap) is not installed: no sandbox to check")
def test_grading_runs_sandboxed(graded):
    executed = json.loads((graded["out"] / "autograded" / "cheat_read_solutions" / "accel_sgd" / "accel_sgd.ipynb").read_text())
    text = json.dumps(executed)
    assert "found []" in text


def test_a_dask_cluster_grades_like_local_processes(graded, tmp_path):
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        sub = tmp_path / "submitted"
        for sid in ["mistake_recorder"]:  # partial credit: the same points, case by case
            dst = sub / sid / "accel_sgd" / "accel_sgd.ipynb"
            dst.parent.mkdir(parents=True)
            dst.write_text((graded["submitted"] / sid / "accel_sgd" / "accel_sgd.ipynb").read_text())
        out = tmp_path / "out"
        classgrade.grade_class(course_folder(paths.REPO_ROOT), sub, out, scheduler=cluster.scheduler_address, wall_s=240, cell_s=20)
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grader" / "grades.csv"))}
    assert rows["mistake_recorder"]["total"] == graded["grades"]["mistake_recorder"]["total"]


def test_grading_again_into_the_same_out_reuses_what_did_not_change(graded, tmp_path):
    """Four of the class handed in again into a copy of its OUT: two unchanged, one re-saved with other
    bytes, one whose kernel died. Only the unchanged two are reused; their rows stay as they were."""
    out = tmp_path / "out"
    shutil.copytree(graded["out"], out)
    stored = {json.loads(p.read_text())["student_id"] for p in (out / "grader" / "cache" / "results").glob("*.json")}
    assert not {"fault_infinite_loop", "fault_os_exit"} & stored  # a cell timeout, a dead kernel
    again = ["correct", "mistake_adam_eps", "variant_inplace_ops", "fault_os_exit"]
    assert {"correct", "mistake_adam_eps", "variant_inplace_ops"} <= stored
    changed = tmp_path / "submitted_again"
    for sid in again:
        shutil.copytree(graded["submitted"] / sid, changed / sid)
    edited = changed / "correct" / "accel_sgd" / "accel_sgd.ipynb"
    edited.write_text(edited.read_text() + "\n")  # the same notebook, other bytes: graded again
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("AUTOGRADE_CACHE", None)
    proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(changed), "--out", str(out),
                           "--jobs", "2", "--timeout", "240", "--cell-timeout", "20"],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 submission(s) unchanged" in proc.stderr  # not the re-saved one, not the dead kernel's
    before = {r["student_id"]: r for r in _without_grading_time(graded["out"])}
    assert _without_grading_time(out) == [before[sid] for sid in sorted(again)]
    cells_before = [r for r in csv.DictReader(open(graded["out"] / "grader" / "cells.csv")) if r["student_id"] in again]
    assert list(csv.DictReader(open(out / "grader" / "cells.csv"))) == cells_before
    regraded = {r["student_id"]: r["graded_at"] for r in csv.DictReader(open(out / "grader" / "grades.csv"))}
    first = {r["student_id"]: r["graded_at"] for r in csv.DictReader(open(graded["out"] / "grader" / "grades.csv"))}
    assert [sid for sid in sorted(again) if regraded[sid] == first[sid]] == ["mistake_adam_eps", "variant_inplace_ops"]


def _without_grading_time(out: Path) -> list[dict]:
    rows = list(csv.DictReader(open(out / "grader" / "grades.csv")))
    assert all(r.pop("graded_at") for r in rows)
    return rows
