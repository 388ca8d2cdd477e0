"""One runner process, from its start to its end, with the threads that feed it and read it.

It can be started before its notebook is known (sandbox.start_kernel with the course's opening
cells, inside/runner_opening.py), handed the notebook later, then waited for under the wall limit
and cleaned up: its process group killed, leftovers swept, its cgroup and working folder removed.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograde.running import sandbox_sweep

if TYPE_CHECKING:
    from autograde.running.kernel_users import Lease
from autograde.running.cgroups import SubmissionCgroup
from autograde.running.inside import runner_opening
from autograde.running.sandbox_events import RunnerReport, read_events

LOG_TAIL_BYTES = 8192  # how much of the runner's own stderr is kept for error messages


@dataclass
class KernelProcess:
    proc: subprocess.Popen
    run_id: str  # how leftovers are found (AUTOGRADE_RUN_ID in every process it starts)
    cgroup: SubmissionCgroup | None
    workdir: Path
    started_as: tuple  # (limits, env, views, sandboxed): a notebook may use it only if its run would match
    opening: list | None  # the opening cells it runs before its notebook arrives (None: it waits for the notebook)
    owns_workdir: bool = False  # made for it (a kernel started ahead): removed with it
    user: Lease | None = None  # its uid's lease, given back once nothing of it is left
    report: RunnerReport = field(default_factory=RunnerReport)
    tail: bytearray = field(default_factory=bytearray)
    threads: list = field(default_factory=list)
    handed_at: float | None = None  # when its notebook was handed over: the wall limit counts from here

    def spawn_readers(self) -> None:
        self.threads = [threading.Thread(target=read_events, args=(self.proc.stdout, self.report), daemon=True),
                        threading.Thread(target=_drain, args=(self.proc.stderr, self.tail), daemon=True)]
        for t in self.threads:
            t.start()

    def feed(self, data: bytes, close: bool) -> None:
        """Write to the runner's stdin in a thread (a notebook can exceed the pipe's buffer)."""
        t = threading.Thread(target=_feed_stdin, args=(self.proc.stdin, data, close), daemon=True)
        t.start()
        self.threads.append(t)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fits(self, nb: dict, started_as: tuple) -> bool:
        """Alive, started as `started_as`, and its opening cells (if any) how `nb` begins: the same cells
        by type, id and source, with more after them (runner_opening.begins_with)."""
        if not self.alive() or self.started_as != started_as:
            return False
        return self.opening is None or runner_opening.begins_with(nb["cells"], self.opening)

    def wait(self, wall_s: float) -> bool:
        """Wait until the runner ends or wall_s after the hand-over; True if the wall was hit."""
        try:
            self.proc.wait(timeout=max(0.0, wall_s - (time.monotonic() - (self.handed_at or time.monotonic()))))
            return False
        except subprocess.TimeoutExpired:
            return True
        finally:
            self.close()

    def close(self) -> None:
        """Kill whatever is left and remove what it had; safe to call twice."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()
        sandbox_sweep.kill_leftovers(self.run_id)
        if self.user is not None:
            self.user.release()
            self.user = None
        if self.cgroup is not None:
            self.cgroup.close()
            self.cgroup = None
        for t in self.threads:
            t.join(timeout=5)
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _drain(pipe, keep: bytearray) -> None:
    """Read the runner's stderr to the end, keeping only the tail (bounded memory)."""
    for chunk in iter(lambda: pipe.read1(65536), b""):
        keep += chunk
        del keep[:-LOG_TAIL_BYTES]
    pipe.close()


def _feed_stdin(pipe, data: bytes, close: bool) -> None:
    try:
        pipe.write(data)
        pipe.flush()
        if close:
            pipe.close()
    except OSError:  # the runner died before reading it all: its stderr says why
        pass
