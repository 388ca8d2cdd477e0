"""A kernel started ahead (sandbox.start_kernel with its opening cells): it runs the course's opening
cells before its notebook is known, then runs that notebook on; nothing of another run reaches it."""
from __future__ import annotations

import time

from nbformat.v4 import new_code_cell, new_notebook

from autograde.running import ahead, sandbox
from autograde.running.sandbox import Limits, run_notebook

LIMITS = Limits(wall_s=60, cell_s=30, memory_bytes=4 * 2**30)
OPENING = "import time\nopened_at = time.time()"


def notebook(*sources: str):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i}"
    return nb


def opening():
    return notebook(OPENING)


def text(result, index: int) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in result.notebook["cells"][index].get("outputs", []))


def wait_for_cell(kernel, index: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while index not in kernel.report.seconds and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_opening_cells_run_before_the_notebook_is_handed_over(tmp_path):
    kernel = sandbox.start_kernel(None, limits=LIMITS, opening=opening())
    wait_for_cell(kernel, 0)
    handed = time.time()
    result = run_notebook(notebook(OPENING, "print(opened_at < %r)" % handed), tmp_path, limits=LIMITS, started=kernel)
    assert result.status == "ok", result.message
    assert result.started_ahead
    assert text(result, 1) == "True\n"


def test_the_notebook_goes_on_in_the_same_kernel_and_keeps_the_opening_outputs(tmp_path):
    kernel = sandbox.start_kernel(None, limits=LIMITS, opening=notebook("x = 6\nprint('opened')"))
    result = run_notebook(notebook("x = 6\nprint('opened')", "x * 7"), tmp_path, limits=LIMITS, started=kernel)
    assert result.status == "ok", result.message
    assert text(result, 0) == "opened\n" and text(result, 1) == "42"
    assert set(result.cell_seconds) == {0, 1}


def test_a_notebook_that_does_not_begin_with_the_opening_gets_a_fresh_kernel(tmp_path):
    kernel = sandbox.start_kernel(None, limits=LIMITS, opening=notebook("secret = 1"))
    result = run_notebook(notebook("x = 1", "print('secret' in globals())"), tmp_path, limits=LIMITS, started=kernel)
    assert result.status == "ok", result.message
    assert not result.started_ahead and text(result, 1) == "False\n"
    assert not kernel.alive()


def test_a_kernel_started_with_other_limits_is_not_used(tmp_path):
    kernel = sandbox.start_kernel(None, limits=Limits(wall_s=60, cell_s=30, memory_bytes=5 * 2**30), opening=opening())
    result = run_notebook(notebook(OPENING, "1"), tmp_path, limits=LIMITS, started=kernel)
    assert result.status == "ok" and not result.started_ahead
    assert not kernel.alive()


def test_the_runner_itself_refuses_a_notebook_that_does_not_begin_with_what_it_ran():
    kernel = sandbox.start_kernel(None, limits=LIMITS, opening=opening())
    other = notebook("print('not the opening')", "1")
    sandbox.hand_over(kernel, other)
    result = sandbox.finish(kernel, other, LIMITS, time.monotonic())
    assert result.status != "ok" and set(result.cell_seconds) == {0}  # only the opening cell ever ran
    assert "not the opening" not in text(result, 0)


def test_nothing_one_run_leaves_reaches_the_kernel_started_beside_it(tmp_path):
    """Student A's run pollutes everything it can reach while B's kernel is started ahead beside it."""
    pollute = ("import builtins, os, pathlib, sys\n"
               "builtins.LEAK = 1; os.environ['LEAK'] = '1'; sys.modules['leak'] = sys\n"
               "for d in ('/tmp', '/dev/shm', os.getcwd(), os.path.expanduser('~')):\n"
               "    pathlib.Path(d, 'leak').write_text('A')")
    look = ("import builtins, os, pathlib, sys\n"
            "print([hasattr(builtins, 'LEAK'), 'LEAK' in os.environ, 'leak' in sys.modules,"
            " *[pathlib.Path(d, 'leak').exists() for d in ('/tmp', '/dev/shm', os.getcwd(), os.path.expanduser('~'))]])")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def start_b():
        ahead.start(opening(), limits=LIMITS, env=None, hide=[], expose=[])
    a = run_notebook(notebook(OPENING, pollute), tmp_path / "a", limits=LIMITS, on_handed_over=start_b)
    assert a.status == "ok", a.message
    b = run_notebook(notebook(OPENING, look), tmp_path / "b", limits=LIMITS, started=ahead.take())
    assert b.status == "ok" and b.started_ahead, b.message
    expected = "[False, False, False, False, False, False, False]\n"
    assert text(b, 1) == expected if sandbox.bwrap_available() else text(b, 1).startswith("[False, False, False")


def test_a_kernel_never_handed_a_notebook_is_closed_with_its_folder():
    kernel = sandbox.start_kernel(None, limits=LIMITS, opening=opening())
    wait_for_cell(kernel, 0)
    folder = kernel.workdir
    kernel.close()
    assert not kernel.alive() and not folder.exists()


def test_a_kernel_started_ahead_left_unused_is_closed_when_the_grader_closes_it():
    ahead.start(opening(), limits=LIMITS, env=None, hide=[], expose=[])
    kernel = ahead.take()
    assert kernel is not None and kernel.alive()
    ahead._kernel = kernel  # as left behind by a last submission
    ahead.close()
    assert not kernel.alive() and ahead.take() is None
