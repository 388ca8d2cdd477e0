"""The lesson's opening cells: the setup cell says where training runs, and the sample class begins with them
(tools/make_samples.py builds it from the released lesson; run it again after `autograde release`)."""
import nbformat
from nbclient import NotebookClient

from autograde import paths
from miniai.conv import describe_device

LESSON = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
SAMPLES = paths.REPO_ROOT / "autograde" / "samples"
STUDENTS = ("alice", "bob", "carol", "dave", "erin", "frank")


def opening_cells(nb):
    "(type, source) of the cells before the first answer cell: imports, data, the shared callbacks."
    first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    return [(c.cell_type, c.source) for c in nb.cells[:first]]


def test_the_setup_cell_prints_where_training_runs(tmp_path):
    nb = nbformat.read(LESSON, as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    stdout = "".join(o.text for o in nb.cells[0].outputs if o.get("name") == "stdout")
    assert stdout == f"Training runs on: {describe_device()}\n"


def test_every_sample_but_dave_begins_with_the_lessons_opening_cells():
    "dave adds his cheat right after the setup cell: the grader then starts a fresh kernel for him."
    opening = opening_cells(nbformat.read(LESSON, as_version=4))
    begins = {sid for sid in STUDENTS
              if [(c.cell_type, c.source) for c in
                  nbformat.read(SAMPLES / sid / "accel_sgd" / "accel_sgd.ipynb", as_version=4).cells[:len(opening)]]
              == opening}
    assert begins == set(STUDENTS) - {"dave"}, "run tools/make_samples.py after `autograde release`"
