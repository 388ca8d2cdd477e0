"""The next submission's kernel, started while the current one is graded.

A kernel's start and the course's opening cells (imports of torch, torchvision, datasets; the
data) are the same for every student and took ~5.9 s of a submission's ~10 s (bench/grading.py).
Started ahead, they run while the previous notebook runs. The spare is a fresh sandbox like any
other: no student's code has run in it when its own notebook arrives, and sandbox.fits refuses it
to a notebook that does not begin with the cells it ran. One spare per grading process, closed at
exit if unused. A grading process killed outright closes nothing: the spare dies with it (launch.py,
bwrap's --die-with-parent), and its working folder, in the host's temp folder, is named after the
grader run so that the next run's sweep removes it (sandbox_sweep.py).
"""
from __future__ import annotations

import atexit
from pathlib import Path

from autograde.running import sandbox
from autograde.running.kernel_process import KernelProcess

_spare: KernelProcess | None = None


def take() -> KernelProcess | None:
    """The spare, if one was started (the caller runs it or closes it)."""
    global _spare
    spare, _spare = _spare, None
    return spare


def start(prelude: dict, *, limits: sandbox.Limits, env: dict | None, hide: list[Path], expose: list[Path]) -> None:
    """Start the spare (closing an unused one): a kernel running `prelude` in a folder of its own."""
    global _spare
    close()
    _spare = sandbox.start_kernel(None, limits=limits, env=env, hide=hide, expose=expose, prelude=prelude)


def close() -> None:
    spare = take()
    if spare is not None:
        spare.close()


atexit.register(close)
