"""Releasing again changes nothing that does not matter: a fresh clone is clean after `make demo`.

visible_expected.json is rewritten only when its numbers move beyond the visible checks' own
tolerances, so another CPU's last-bit rounding leaves the committed file alone.
"""
import copy
import json
import subprocess

import pytest
from autograde.trusted.release import write_visible_expected
from autograde.visible.lesson import current as current_lesson
from autograde.trusted.visible_build import same_within_tolerance


def _scaled(data, factor):
    """Every float in the data multiplied by factor."""
    if isinstance(data, dict):
        return {k: _scaled(v, factor) for k, v in data.items()}
    if isinstance(data, list):
        return [_scaled(v, factor) for v in data]
    return data * factor if isinstance(data, float) else data


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(current_lesson().expected_path.read_text())


def test_last_bit_differences_are_the_same_expectations(committed):
    assert same_within_tolerance(committed, _scaled(committed, 1 + 1e-12))


def test_a_difference_the_checks_would_see_is_not(committed):
    assert not same_within_tolerance(committed, _scaled(committed, 1 + 1e-3))


def test_a_changed_hint_is_not(committed):
    changed = copy.deepcopy(committed)
    changed["adam"]["mistakes"][0]["hint"] += " More."
    assert not same_within_tolerance(committed, changed)


def test_release_leaves_a_file_that_differs_only_in_the_last_bits_alone(committed, tmp_path):
    path = tmp_path / "visible_expected.json"
    text = json.dumps(_scaled(committed, 1 + 1e-12), indent=1, sort_keys=True) + "\n"
    path.write_text(text)
    write_visible_expected(path)
    assert path.read_text() == text


def test_release_rewrites_a_file_whose_numbers_moved(committed, tmp_path):
    path = tmp_path / "visible_expected.json"
    path.write_text(json.dumps(_scaled(committed, 1.01)))
    write_visible_expected(path)
    assert same_within_tolerance(json.loads(path.read_text()), committed)


@pytest.mark.slow  # make demo grades the sample class
def test_a_fresh_clone_is_clean_after_make_demo(demo_in_a_clone):
    """A clone of the working tree, then `autograde demo` (what `make demo` runs) there (conftest)."""
    clone, _ = demo_in_a_clone
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""
