"""The next submission's kernel, started ahead: while the current one is graded.

A kernel's start and the course's opening cells (imports of torch, torchvision, datasets; the
data) are the same for every student and a large part of a submission's time (how large: see
`python bench/grading.py`, BENCHMARKS.md §1 part by part). Started ahead, they run while the
previous notebook runs. A kernel started ahead is a fresh sandbox like any other: no student's
code has run in it when its own notebook arrives, and sandbox.fits refuses it to a notebook that
does not begin with the opening cells it ran. One kernel started ahead per grading process, closed
at exit if unused. A grading process killed outright closes nothing: the kernel dies with it
(launch.py, bwrap's --die-with-parent), and its working folder, in the host's temp folder, is named
after the grader run so that the next run's sweep removes it (sandbox_sweep.py).
"""
from __future__ import annotations

import atexit
from pathlib import Path

from autograde.running import sandbox
from autograde.running.kernel_process import KernelProcess

_kernel: KernelProcess | None = None


def take() -> KernelProcess | None:
    """The kernel started ahead, if there is one (the caller runs it or closes it)."""
    global _kernel
    kernel, _kernel = _kernel, None
    return kernel


def start(opening: dict, *, limits: sandbox.Limits, env: dict | None, hide: list[Path], expose: list[Path]) -> None:
    """Start a kernel ahead (closing an unused one): it runs the `opening` cells in a folder of its own."""
    global _kernel
    close()
    _kernel = sandbox.start_kernel(None, limits=limits, env=env, hide=hide, expose=expose, opening=opening)


def close() -> None:
    kernel = take()
    if kernel is not None:
        kernel.close()


atexit.register(close)
