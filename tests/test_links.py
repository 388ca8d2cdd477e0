"""Links inside SUBMITTED, and one notebook handed in by several students.

No link is followed anywhere under SUBMITTED: a student folder, assignment folder or notebook that
links to another student's would get that student's grade and page under a second name. It is
skipped, and said. A hard link cannot be told from a file, so it shows where it must: among the
notebooks that more than one student handed in (identical.py), a hint for the instructor in the
printed output and the class report, where answers left as the released stub never count.
The end-to-end class grades two real notebooks once.
"""
import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde import identical, paths, submissions
from autograde.trusted.grade import load_setup

A = paths.ASSIGNMENT
LESSON = paths.REPO_ROOT / "lessons" / A / f"{A}.ipynb"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
ENV.pop("AUTOGRADE_CACHE", None)
MINE = "class SGD:\n    def __init__(self, params, lr, wd=0.): self.params = list(params)\n"


def lesson(answers=None, saved_again=False) -> str:
    """The released lesson with some answers filled in; saved_again: what Jupyter writes once it ran."""
    nb = nbformat.read(LESSON, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in (answers or {}):
            cell.source = answers[gid]
    if saved_again:
        nb.metadata["widgets"] = {}
        for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.execution_count = i + 1
    return nbformat.writes(nb)


def hand_in(sub: Path, sid: str, text: str, name: str = f"{A}.ipynb") -> Path:
    path = sub / sid / A / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- links are not followed ---------------------------------------------------------------------

def test_a_student_folder_that_links_to_another_students_is_skipped_with_why(tmp_path):
    hand_in(tmp_path, "ann", "{}")
    (tmp_path / "cy").symlink_to("ann")
    found = submissions.find(tmp_path, A, A)
    assert [s.student_id for s in found.submissions] == ["ann"]
    assert [(s.name, s.reason) for s in found.skipped] == [
        ("cy", f"its folder is a link to {tmp_path / 'ann'}, inside {tmp_path}: links are not followed (it would "
               f"grade that work as this student's)")]
    assert found.warnings == [f"skipped cy: {found.skipped[0].reason}"]


def test_an_assignment_folder_that_is_a_link_is_skipped(tmp_path):
    hand_in(tmp_path, "ann", "{}")
    (tmp_path / "dan").mkdir()
    (tmp_path / "dan" / A).symlink_to(tmp_path / "ann" / A)
    found = submissions.find(tmp_path, A, A)
    assert [s.student_id for s in found.submissions] == ["ann"]
    assert [s.name for s in found.skipped] == ["dan"]
    assert found.skipped[0].reason.startswith(f"its {A} folder is a link to {tmp_path / 'ann' / A}, inside")


def test_a_notebook_that_is_a_link_is_skipped_and_so_is_its_student_with_nothing_else(tmp_path):
    notebook = hand_in(tmp_path, "ann", "{}")
    (tmp_path / "eve" / A).mkdir(parents=True)
    (tmp_path / "eve" / A / f"{A}.ipynb").symlink_to(notebook)
    found = submissions.find(tmp_path, A, A)
    assert [s.student_id for s in found.submissions] == ["ann"]
    assert [s.name for s in found.skipped] == ["eve"]
    assert found.skipped[0].reason.startswith(f"its notebook {A}.ipynb is a link to {notebook}, inside")


def test_a_linked_notebook_beside_a_real_one_is_left_out_and_said(tmp_path):
    notebook = hand_in(tmp_path, "ann", "{}")
    own = hand_in(tmp_path, "gus", "{}", "mine.ipynb")
    (own.parent / f"{A}.ipynb").symlink_to(notebook)
    found = submissions.find(tmp_path, A, A)
    gus = next(s for s in found.submissions if s.student_id == "gus")
    assert gus.path == own and gus.note == ""
    assert found.warnings == [f"gus: not graded: its notebook {A}.ipynb is a link to {notebook}, inside {tmp_path}: "
                              f"links are not followed (it would grade that work as this student's)"]


def test_links_that_lead_nowhere_or_in_a_loop_are_skipped(tmp_path):
    hand_in(tmp_path, "ann", "{}")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    found = submissions.find(tmp_path, A, A)
    assert [s.student_id for s in found.submissions] == ["ann"]
    assert [s.name for s in found.skipped] == ["gone", "loop"]
    assert all(s.reason.startswith("its folder is a link to ") for s in found.skipped)


def test_a_link_put_in_the_notebooks_place_after_it_was_found_is_not_read(tmp_path):
    secret = tmp_path / "secret.ipynb"
    secret.write_text("the other student's work")
    path = hand_in(tmp_path, "ann", "{}")
    [sub] = submissions.find(tmp_path, A, A).submissions
    path.unlink()
    path.symlink_to(secret)
    assert submissions.read_text(sub.path).startswith("<unreadable: ")


# --- the same notebook from several students ----------------------------------------------------

@pytest.fixture(scope="module")
def canonical():
    return load_setup().canonical


def test_a_hard_linked_notebook_is_the_same_file(canonical):
    text = lesson({"sgd": MINE})
    assert identical.groups([("ann", text), ("ben", text), ("cy", lesson())], canonical) == [
        identical.Group(("ann", "ben"), True)]


def test_a_copy_saved_again_has_the_same_answers(canonical):
    texts = [("ann", lesson({"sgd": MINE})), ("fay", lesson({"sgd": MINE}, saved_again=True))]
    assert texts[0][1] != texts[1][1]
    assert identical.groups(texts, canonical) == [identical.Group(("ann", "fay"), False)]


def test_unfilled_answers_are_not_the_same_answers(canonical):
    stub_again = lesson(saved_again=True)
    emptied = lesson({"sgd": "", "written_wd_vs_l2": "  \n"})
    texts = [("ann", lesson()), ("ben", lesson()), ("cy", stub_again), ("dan", emptied), ("eve", emptied)]
    assert identical.groups(texts, canonical) == []


def test_one_different_answer_is_not_the_same(canonical):
    texts = [("ann", lesson({"sgd": MINE, "written_adam_eps": "eps keeps the step finite"})),
             ("ben", lesson({"sgd": MINE, "written_adam_eps": "eps avoids dividing by zero"}))]
    assert identical.groups(texts, canonical) == []


def test_unreadable_notebooks_are_not_compared(canonical):
    assert identical.groups([("ann", "not a notebook"), ("ben", "not a notebook")], canonical) == []


def test_a_file_shared_by_two_and_its_answers_by_a_third_are_both_said(canonical):
    text = lesson({"sgd": MINE})
    texts = [("ann", text), ("ben", text), ("fay", lesson({"sgd": MINE}, saved_again=True))]
    assert identical.groups(texts, canonical) == [identical.Group(("ann", "ben"), True),
                                                 identical.Group(("ann", "ben", "fay"), False)]


# --- a class with links and a hard link, graded once --------------------------------------------

@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    root = tmp_path_factory.mktemp("links")
    sub, out = root / "submitted", root / "out"
    ann = hand_in(sub, "ann", lesson({"sgd": MINE}))
    (sub / "ben" / A).mkdir(parents=True)
    os.link(ann, sub / "ben" / A / f"{A}.ipynb")
    (sub / "cy").symlink_to("ann")
    (sub / "dan").mkdir()
    (sub / "dan" / A).symlink_to(sub / "ann" / A)
    (sub / "eve" / A).mkdir(parents=True)
    (sub / "eve" / A / f"{A}.ipynb").symlink_to(ann)
    proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(sub), "--out", str(out),
                           "--jobs", "2", "--timeout", "120", "--cell-timeout", "20"],
                          capture_output=True, text=True, env=ENV, cwd=paths.REPO_ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"sub": sub, "out": out, "proc": proc}


@pytest.mark.slow
def test_only_the_real_folders_are_graded_and_no_page_is_made_under_a_link(linked):
    rows = list(csv.DictReader(open(linked["out"] / "grader" / "grades.csv", newline="")))
    assert [r["student_id"] for r in rows] == ["ann", "ben"]
    assert sorted(p.name for p in (linked["out"] / "feedback").iterdir()) == ["ann", "ben"]


@pytest.mark.slow
def test_each_link_is_said_in_the_printed_table_as_not_graded(linked):
    lines = linked["proc"].stdout.splitlines()
    sub = linked["sub"]
    for sid, what, target in [("cy", "its folder", sub / "ann"), ("dan", f"its {A} folder", sub / "ann" / A),
                              ("eve", f"its notebook {A}.ipynb", sub / "ann" / A / f"{A}.ipynb")]:
        [line] = [line for line in lines if line.startswith(f"{sid} ")]
        assert line.endswith(f"  -  not graded: {what} is a link to {target}, inside {sub}: links are not "
                             f"followed (it would grade that work as this student's)")


@pytest.mark.slow
def test_the_hard_link_is_printed_as_one_notebook_handed_in_twice(linked):
    stdout = linked["proc"].stdout
    assert "handed in by more than one student (a hint to look at, not a verdict):\n" \
           "  the same notebook file: ann, ben\n" in stdout


@pytest.mark.slow
def test_the_report_names_the_same_notebook_and_the_links(linked):
    report = (linked["out"] / "grader" / "report.html").read_text()
    assert "Notebooks handed in by more than one student" in report
    assert ('<tr><td><a href="../feedback/ann/accel_sgd/accel_sgd.html">ann</a>, '
            '<a href="../feedback/ben/accel_sgd/accel_sgd.html">ben</a></td>'
            '<td>the notebook file, byte for byte</td></tr>') in report
    assert "Folders not graded" in report
    for sid in ["cy", "dan", "eve"]:
        assert f"<tr><td><code>{sid}</code></td><td>its " in report


def test_the_report_says_which_students_share_only_their_answers():
    from autograde.outputs.report import render_report
    skipped = [submissions.Skipped("cy", "its folder is a link to <b>x</b>")]
    page = render_report([], skipped=skipped, identical=[identical.Group(("ann", "fay"), False)])
    assert "<tr><td>ann, fay</td><td>the source of every answer cell</td></tr>" in page
    assert "<tr><td><code>cy</code></td><td>its folder is a link to &lt;b&gt;x&lt;/b&gt;</td></tr>" in page
