"""The released lesson and the visible checks are generated from solutions/ and stay in sync with it."""
import json
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.trusted import solution as reference
from autograde.visible.compare import agrees
from autograde.trusted.release import generate_lesson, visible_expected
from autograde.visible.lesson import current as current_lesson

SOLUTIONS = reference.SOLUTIONS_DIR / "accel_sgd" / "accel_sgd.ipynb"
LESSON = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"


def nbgrader_cells(nb):
    return [(c, c.metadata["nbgrader"]) for c in nb.cells if "nbgrader" in c.metadata]


@pytest.fixture(scope="module")
def solutions():
    return nbformat.read(SOLUTIONS, as_version=4)


@pytest.fixture(scope="module")
def lesson():
    return nbformat.read(LESSON, as_version=4)


def test_the_committed_lesson_equals_a_fresh_generation(tmp_path):
    fresh = generate_lesson(tmp_path) / "accel_sgd.ipynb"
    assert json.loads(fresh.read_text()) == json.loads(LESSON.read_text()), "run `autograde release`"


def test_the_visible_checks_expectations_are_up_to_date():
    committed = json.loads(current_lesson().expected_path.read_text())
    fresh = visible_expected()
    assert set(committed) == set(fresh)
    for exercise in fresh:
        assert agrees(committed[exercise]["expected"], fresh[exercise]["expected"]), exercise
        assert [m["key"] for m in committed[exercise]["mistakes"]] == [m["key"] for m in fresh[exercise]["mistakes"]]


def test_each_exercise_is_one_answer_cell_named_after_it(solutions):
    answers = [m["grade_id"] for c, m in nbgrader_cells(solutions) if m.get("solution") and c.cell_type == "code"]
    assert answers == list(lessons.current().classes)


def test_every_test_cell_is_named_after_its_exercise_and_carries_points(solutions):
    tests = {m["grade_id"]: m for c, m in nbgrader_cells(solutions) if m.get("grade") and not m.get("solution")}
    assert set(tests) == set(lessons.current().tests_by_id)
    for gid, meta in tests.items():
        assert gid.startswith(f"test_{lessons.current().tests_by_id[gid].exercise}") and meta["points"] > 0


def test_solution_regions_are_only_inside_methods(solutions):
    for cell, meta in nbgrader_cells(solutions):
        if meta.get("solution") and cell.cell_type == "code":
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if "### BEGIN SOLUTION" in line:
                    assert line.startswith("        "), f"{meta['grade_id']}: solution region outside a method body"
                    above = next(a for a in reversed(lines[:i]) if a.strip())
                    assert re.match(r"\s+def \w+\(self", above), f"{meta['grade_id']}: {above!r}"


def test_nbgrader_maps_source_and_release_directories():
    config = (paths.REPO_ROOT / "nbgrader_config.py").read_text()
    assert 'source_directory = "solutions"' in config and 'release_directory = "lessons"' in config


def test_the_lesson_holds_no_solution_code_and_no_hidden_test(lesson):
    text = "\n".join(c.source for c in lesson.cells)
    assert "BEGIN HIDDEN TESTS" not in text and "probe(" not in text and "BEGIN SOLUTION" not in text
    for exercise in reference.solution_sources():
        solution_lines = _solution_lines(exercise)
        assert solution_lines and not any(line in text for line in solution_lines), exercise
    assert text.count("raise NotImplementedError()") == 13


def _solution_lines(exercise):
    nb = nbformat.read(SOLUTIONS, as_version=4)
    cell = next(c for c, m in nbgrader_cells(nb) if m.get("grade_id") == exercise)
    inside, lines = False, []
    for line in cell.source.splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside and len(line.strip()) > 12:
            lines.append(line)
    return lines


@pytest.mark.slow  # runs the whole lesson in a kernel, as grading one notebook does
def test_the_solutions_notebook_passes_every_test_top_to_bottom(solutions, tmp_path):
    """Executed as the autograder would (short demonstration runs); hidden tests judge in place."""
    env_before = dict(os.environ)
    os.environ.update(NBGRADER_EXECUTION="autograde", HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    os.environ.pop("AUTOGRADE_PROBE_DIR", None)
    try:
        nb = nbformat.from_dict(json.loads(json.dumps(solutions)))
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    outputs = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert outputs.count(": passed.") == len(lessons.current().tests_by_id)
    assert outputs.count("✓ ") == len(lessons.current().classes)
