"""Every size a submission controls is capped, and a cap reached is that student's message (issue 21, item 6).

Memory for the whole submission (the cgroup's cap: its processes and its tmpfs files together), each
rich output, each cell's and the whole notebook's outputs, the nbgrader files copied from a student's
folder and the notebook file itself. Real sandboxed kernels with small caps (nothing allocates more
than a few hundred MB), and one real grading of the tiny EMA class.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

from autograde import submissions
from autograde.running import cgroups
from autograde.running.sandbox import Limits
from test_sandbox_restart import run, text  # one notebook in the real sandbox, and a cell's text
from test_second_lesson import FIXTURE, RIGHT, answered, autograde

MiB = 2**20
PROBE = "import os, pathlib\npathlib.Path(os.environ['AUTOGRADE_PROBE_DIR'], '{name}.json').write_text('{value}')"


def _memory_capped() -> bool:
    group = cgroups.SubmissionCgroup.create(processes=64, cpus=None, memory_bytes=256 * MiB)
    if group is None:
        return False
    group.close()
    return group.memory is not None


needs_memory_cgroup = pytest.mark.skipif(not _memory_capped(), reason="no writable memory cgroup here")

# --------------------------------------------------------------------------- memory of the whole submission

MEMORY = Limits(wall_s=120, cell_s=60, memory_bytes=4 * 2**30, memory_total_bytes=400 * MiB)
WORDS = ("your submission used more than 400 MiB of memory in total (its processes and the files it wrote to "
         "its working folder, /tmp and /dev/shm together)")

CHILDREN_AND_SHM = """import subprocess, sys
open('/dev/shm/fill', 'wb').write(b'1' * (150 * 2**20))
hold = 'import time; x = b"1" * (150 * 2**20); time.sleep(5)'
children = [subprocess.Popen([sys.executable, '-c', hold]) for _ in range(3)]
print(sorted(c.wait() for c in children))"""


@needs_memory_cgroup
def test_children_and_shm_together_over_the_memory_cap_are_stopped_with_a_memory_message(tmp_path):
    # Each child (150 MiB) is far under RLIMIT_AS (4 GiB); together with /dev/shm they pass 400 MiB.
    result = run(tmp_path, CHILDREN_AND_SHM, "print('after')", limits=MEMORY)
    assert "-9" in text(result, 1)  # the OOM killer stopped a child: SIGKILL
    assert result.cell_errors[1].startswith(f"{WORDS}, so the system stopped one of its processes in this cell")
    assert result.notes == [f"{WORDS[0].upper()}{WORDS[1:]}: in cell #2 (`import subprocess, sys`) the "
                            f"system stopped one of the processes it had started."]
    assert text(result, 2) == "after\n"


@needs_memory_cgroup
def test_a_kernel_over_the_memory_cap_is_stopped_in_its_cell_and_the_rest_runs(tmp_path):
    result = run(tmp_path, "print('before')", "x = b'1' * (600 * 2**20)", "print('after')", limits=MEMORY)
    assert result.status == "dead" and result.crashed_cells == [2]
    assert result.cell_errors == {2: f"{WORDS}, so the kernel was stopped in this cell"}
    assert result.message == (f"{WORDS[0].upper()}{WORDS[1:]}: the kernel was stopped in cell #3 "
                              f"(`x = b'1' * (600 * 2**20)`), restarted, and the notebook ran again without "
                              f"that cell.")
    assert text(result, 3) == "after\n"


# --------------------------------------------------------------------------- outputs

OUTPUTS = Limits(wall_s=120, cell_s=60, output_bytes=100_000, cell_output_bytes=300_000,
                 notebook_output_bytes=700_000)
IMAGES = "from IPython.display import Image, display\nfor _ in range({n}): display(Image(data=b'\\x89PNG' + b'0' * {size}, format='png'))"


def outputs_bytes(result, index: int) -> int:
    return len(json.dumps(result.notebook["cells"][index].get("outputs", [])))


def test_an_image_over_the_output_cap_is_dropped_with_a_note(tmp_path):
    result = run(tmp_path, IMAGES.format(n=1, size=200_000), IMAGES.format(n=1, size=50_000), limits=OUTPUTS)
    dropped, kept = result.notebook["cells"][1]["outputs"], result.notebook["cells"][2]["outputs"]
    assert [o["data"] for o in dropped] == [{"text/plain": "[autograde: this output was dropped (image/png of "
                                                           "0.3 MB): each output may hold at most 0.1 MB]"}]
    assert list(kept[0]["data"]) == ["image/png", "text/plain"]  # under the cap: kept whole
    assert result.notes == ["Cell #2 (`from IPython.display import Image, display`) showed an output larger "
                            "than 0.1 MB (an image, for instance); it was dropped from the executed notebook."]


def test_a_display_update_is_capped_like_any_output(tmp_path):
    update = ("from IPython.display import Image, display\nh = display(Image(data=b'\\x89PNG', format='png'), "
              "display_id=True)\nh.update(Image(data=b'\\x89PNG' + b'0' * 200_000, format='png'))")
    result = run(tmp_path, update, limits=OUTPUTS)
    assert outputs_bytes(result, 1) < 1000
    assert "each output may hold at most 0.1 MB" in text(result, 1)


def test_many_images_are_capped_per_cell_and_in_total_and_the_other_cells_still_grade(tmp_path):
    many = IMAGES.format(n=20, size=50_000)  # about 67 kB each in base64: 1.3 MB a cell
    result = run(tmp_path, many, many, many, PROBE.format(name="test_after", value=1), limits=OUTPUTS)
    assert result.status == "ok" and result.cell_errors == {}
    assert result.probes == {"test_after": b"1"}  # the cell after them ran and recorded its result
    assert [outputs_bytes(result, i) <= 300_000 + 500 for i in (1, 2, 3)] == [True] * 3
    assert sum(outputs_bytes(result, i) for i in range(1, 5)) <= 700_000 + 1500
    assert "this cell's outputs passed 0.3 MB; its later outputs were dropped" in text(result, 1)
    assert "your notebook's outputs passed 0.7 MB in total; this output and later ones were dropped" in text(result, 3)
    assert result.notes == [
        "The outputs of cell #2 (`from IPython.display import Image, display`) and cell #3 (`from IPython.display "
        "import Image, display`) passed 0.3 MB, the most one cell may show; later outputs of that cell were dropped.",
        "Your notebook's outputs passed 0.7 MB in total; later outputs were dropped, from cell #4 (`from "
        "IPython.display import Image, display`) on."]


# --------------------------------------------------------------------------- files from the student's folder


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The EMA class: ann (right, with a 100 MB submission_secret.txt) and bob (a notebook past the cap)."""
    root = tmp_path_factory.mktemp("caps") / "course"
    shutil.copytree(FIXTURE, root)
    cache = root.parent / "cache"
    done = autograde("release", "--course", str(root), cwd=root, cache=cache)
    assert done.returncode == 0, done.stderr
    ann, bob = (root / "submitted" / s / "ema" for s in ("ann", "bob"))
    for folder in (ann, bob):
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    (ann / "ema.ipynb").write_text(answered(root / "release" / "ema" / "ema.ipynb", RIGHT))
    subprocess.run(["truncate", "-s", "100M", str(ann / "submission_secret.txt")], check=True)  # sparse: free
    subprocess.run(["truncate", "-s", f"{submissions.MAX_NOTEBOOK_BYTES + 1}", str(bob / "ema.ipynb")], check=True)
    done = autograde("grade", "--course", str(root), "--out", str(root / "out"), "--jobs", "1", cwd=root,
                     cache=cache, name_the_lesson=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(root / "out" / "grader" / "grades.csv") as f:
        grades = {r["student_id"]: r for r in csv.DictReader(f)}
    results = {s: json.loads((root / "out" / "grader" / "results" / f"{s}.json").read_text()) for s in ("ann", "bob")}
    return root / "out", (grades, results), done.stderr


@pytest.mark.slow
def test_a_huge_submission_secret_is_not_copied_and_the_rest_is(graded_class):
    out, _, stderr = graded_class
    for top in ("autograded", "feedback"):
        assert sorted(p.name for p in (out / top / "ann" / "ema").iterdir() if p.suffix == ".txt") == ["timestamp.txt"]
    assert "submission_secret.txt is 104,857,600 bytes, more than nbgrader writes (4,096 at most): not copied" in stderr


@pytest.mark.slow
def test_a_notebook_past_the_size_cap_is_refused_for_that_student_only(graded_class):
    _, (grades, results), _ = graded_class
    assert results["bob"]["status"] == "unreadable"
    assert results["bob"]["message"] == ("Your submission could not be graded: the notebook file is larger than "
                                         "64 MB, the most a submission may be, so it was not read.")
    assert results["ann"]["status"] == "ok"
    assert (float(grades["ann"]["total"]), float(grades["ann"]["max_score"])) == (3.0, 3.0)
