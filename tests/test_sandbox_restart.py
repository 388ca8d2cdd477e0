"""A cell that kills the kernel costs only that cell (issue 9, item 3): the runner restarts the kernel
and runs the notebook again without it. Small real notebooks, no torch (a few seconds each)."""
from __future__ import annotations

from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde.running import sandbox
from autograde.running.sandbox import Limits, run_notebook

LIMITS = Limits(wall_s=120, cell_s=30, memory_bytes=4 * 2**30)
PROBE = "import os, pathlib\npathlib.Path(os.environ['AUTOGRADE_PROBE_DIR'], '{name}.json').write_text(str({value}))"


def run(tmp_path: Path, *sources: str, limits: Limits = LIMITS):
    (tmp_path / "work").mkdir(exist_ok=True)
    nb = new_notebook(cells=[new_markdown_cell("# lesson"), *(new_code_cell(s) for s in sources)])
    return run_notebook(nb, tmp_path / "work", limits=limits)


def text(result, index: int) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in result.notebook["cells"][index].get("outputs", []))


@pytest.mark.parametrize("crash", ["import os; os._exit(1)", "import ctypes; ctypes.string_at(0)",
                                   "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                         ids=["exit", "segfault", "sigkill"])
def test_a_crashing_cell_is_skipped_and_every_other_cell_runs(tmp_path, crash):
    result = run(tmp_path, "x = 41", crash, "x += 1\n" + PROBE.format(name="test_after", value="x"),
                 "print('end', x)")
    assert result.status == "dead"
    assert result.crashed_cells == [2]
    assert result.cell_errors == {2: "the kernel died"}
    assert text(result, 4) == "end 42\n"  # the course cell before the crash ran again in the new kernel
    assert result.probes == {"test_after": b"42"}
    assert "restarted" in text(result, 2)  # the executed notebook says so where it happened


def test_the_message_names_the_crashed_cell_and_the_restart(tmp_path):
    result = run(tmp_path, "print('a')", "import os\nos._exit(3)", "print('b')")
    assert result.message == ("The kernel died in cell #3 (`import os`) (a crash, an exit, or running out of "
                              "memory: the limit is 4 GiB); it was restarted and the notebook ran again "
                              "without that cell.")


def test_a_second_crashing_cell_is_skipped_too(tmp_path):
    result = run(tmp_path, "import os", "os._exit(1)", PROBE.format(name="test_one", value=1), "os._exit(2)",
                 PROBE.format(name="test_two", value=2))
    assert result.status == "dead"
    assert result.crashed_cells == [2, 4]
    assert result.probes == {"test_one": b"1", "test_two": b"2"}
    assert "cell #3 (`os._exit(1)`) and cell #5 (`os._exit(2)`)" in result.message


def test_results_recorded_before_the_crash_are_kept(tmp_path):
    result = run(tmp_path, PROBE.format(name="test_before", value=1), "import os; os._exit(1)")
    assert result.probes == {"test_before": b"1"}
    assert result.cell_seconds.keys() == {1, 2}


@pytest.mark.slow  # waits out a wall limit
def test_a_notebook_that_crashes_in_every_cell_finishes_within_the_wall_limit(tmp_path):
    # Forty restarts take longer than the wall, so the wall ends the run; 15 s still leaves room for the
    # two restarts the message needs on a loaded machine (a restart is about a second; seen: 3 s under load).
    limits = Limits(wall_s=15, cell_s=10, memory_bytes=4 * 2**30)
    result = run(tmp_path, *["import os; os._exit(1)"] * 40, limits=limits)
    assert result.status in ("dead", "timeout")
    assert result.seconds < limits.wall_s + 10
    assert result.crashed_cells == list(range(1, 1 + len(result.crashed_cells)))
    assert result.message.startswith("The notebook was stopped at the 15 s time limit") or \
        result.crashed_cells == list(range(1, 41))
    assert "The kernel died in cell #2" in result.message and "restarted" in result.message


def test_a_cell_past_the_cell_time_limit_still_costs_only_itself_without_a_restart(tmp_path):
    result = run(tmp_path, "while True: pass", "print('next')",
                 limits=Limits(wall_s=60, cell_s=1, memory_bytes=4 * 2**30))
    assert result.status == "ok" and result.crashed_cells == []
    assert result.timed_out_cells == [1]
    assert text(result, 2) == "next\n"


def test_without_bwrap_the_restart_works_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    with pytest.warns(RuntimeWarning):
        result = run(tmp_path, "import os; os._exit(1)", "print('after')")
    assert result.crashed_cells == [1] and text(result, 2) == "after\n"
