"""Results kept between gradings: reused only when nothing they depend on changed."""
import dataclasses
import json

import pytest

from autograde.outputs.records import CellResult, SubmissionResult
from autograde.trusted import result_cache
from autograde.trusted.grade import load_setup
from autograde.trusted.result_cache import ResultCache
from autograde.running.sandbox import Limits


@pytest.fixture(scope="module")
def grading():
    return load_setup(limits=Limits(wall_s=240, cell_s=20))


def _result(student_id="ann", status="ok", timed_out=()):
    return SubmissionResult(student_id, "accel_sgd", "accel_sgd", status,
                            cells=[CellResult("test_sgd_small", 1.0, 2.0)], timed_out_cells=list(timed_out))


def test_a_stored_result_comes_back_for_the_same_notebook(tmp_path, grading):
    cache = ResultCache(tmp_path, grading)
    assert cache.store("notebook text", _result())
    assert cache.load("ann", "notebook text") == _result()


def test_other_bytes_or_another_student_miss(tmp_path, grading):
    cache = ResultCache(tmp_path, grading)
    cache.store("notebook text", _result())
    assert cache.load("ann", "notebook text\n") is None
    assert cache.load("bob", "notebook text") is None


@pytest.mark.parametrize("change", [
    lambda c: c.solution_sources.update(sgd=c.solution_sources["sgd"] + "\n# edited"),
    lambda c: c.limits.update(cell_s=21),
    lambda c: c.canonical["cells"].pop(),
])
def test_a_changed_setup_misses(tmp_path, grading, change):
    ResultCache(tmp_path, grading).store("text", _result())
    other = dataclasses.replace(grading, canonical=json.loads(json.dumps(grading.canonical)),
                                solution_sources=dict(grading.solution_sources), limits=dict(grading.limits))
    change(other)
    assert ResultCache(tmp_path, other).load("ann", "text") is None


def test_threads_hidden_paths_and_the_cache_folder_do_not_decide_a_result(tmp_path, grading):
    ResultCache(tmp_path, grading).store("text", _result())
    other = dataclasses.replace(grading, threads=grading.threads + 1, hidden=["/elsewhere"], cache="/elsewhere")
    assert ResultCache(tmp_path, other).load("ann", "text") == _result()


def test_changed_grader_code_misses(tmp_path, grading, monkeypatch):
    ResultCache(tmp_path, grading).store("text", _result())
    monkeypatch.setattr(result_cache, "_code_digest", lambda: "another grader")
    assert ResultCache(tmp_path, grading).load("ann", "text") is None


@pytest.mark.parametrize("result", [_result(status="timeout"), _result(status="dead"), _result(status="error"),
                                    _result(timed_out=[12])])
def test_results_that_depended_on_timing_or_luck_are_not_kept(tmp_path, grading, result):
    cache = ResultCache(tmp_path, grading)
    assert not cache.store("text", result)
    assert cache.load("ann", "text") is None


def test_a_corrupt_entry_is_a_miss(tmp_path, grading):
    cache = ResultCache(tmp_path, grading)
    cache.store("text", _result())
    (entry,) = tmp_path.glob("*.json")
    entry.write_text('{"student_id": "ann", "cel')
    assert cache.load("ann", "text") is None


def test_a_result_from_a_grader_that_could_not_import_itself_is_not_kept(tmp_path, grading):
    broken = _result()
    broken.cells[0].score = 0.0
    broken.cells[0].message = "This test could not run: ModuleNotFoundError: No module named 'autograde'."
    cache = ResultCache(tmp_path, grading)
    assert not cache.store("text", broken)
    assert cache.load("ann", "text") is None


def test_the_cache_folder_is_the_one_named_for_the_block_else_the_persons_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADE_CACHE", str(tmp_path / "chosen"))
    with result_cache.using(tmp_path / "course"):
        assert result_cache.cache_dir() == tmp_path / "course"
    assert result_cache.cache_dir() == tmp_path / "chosen"
