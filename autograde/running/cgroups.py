"""A control group per graded submission: a cap on its processes and on its CPU time.

The sandbox bounds memory (RLIMIT_AS), time and what a submission can see, but not how many
processes it starts (a fork bomb) or how many cores it keeps busy (a loop that sets 16 torch
threads, or forks spinners). Both would slow the rest of the class. A cgroup bounds both, and
the kernel, not our bookkeeping, enforces it.

Works as root with cgroup v1 (separate `pids` and `cpu` hierarchies, as on this machine) or with
a delegated cgroup v2 tree. Where neither can be written, `SubmissionCgroup.create` returns
None and says why once; grading goes on with the other limits.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


def _own_paths() -> dict[str, str]:
    """Controller -> this process's cgroup path ('' -> the v2 path)."""
    paths = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _v1_dirs() -> dict[str, Path] | None:
    """Where to make our groups under cgroup v1: {'pids': dir, 'cpu': dir}."""
    own = _own_paths()
    found = {}
    for name in ("pids", "cpu"):
        mount = next((m for m in (CGROUP_ROOT / name, CGROUP_ROOT / "cpu,cpuacct")
                      if name in m.name.split(",") and (m / "cgroup.procs").exists()), None)
        if mount is None or name not in own:
            return None
        found[name] = mount / own[name].lstrip("/")
    return found


def _v2_dir() -> Path | None:
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    parent = CGROUP_ROOT / _own_paths().get("", "/").lstrip("/")
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return parent if {"pids", "cpu"} <= set(enabled) else None


def group_parents() -> list[Path]:
    """The folders our groups are made in (for sweeping the leftovers of killed runs)."""
    v1 = _v1_dirs()
    if v1 is not None:
        return sorted(set(v1.values()))
    v2 = _v2_dir()
    return [v2] if v2 is not None else []


@functools.lru_cache(maxsize=None)
def _warn_once(reason: str) -> None:
    log.warning("no per-submission cgroup (%s): a submission's process count and CPU use are not "
                "capped. Run the grader as root, or give it a delegated cgroup v2 tree.", reason)


class SubmissionCgroup:
    """One submission's group(s). launch.py moves the kernel in before exec; `close` empties and removes."""

    def __init__(self, dirs: list[Path]):
        self.dirs = dirs

    @classmethod
    def create(cls, processes: int, cpus: float | None) -> "SubmissionCgroup | None":
        name = f"autograde-{os.getpid()}-{uuid.uuid4().hex[:12]}"  # the pid: see sandbox_sweep
        made: list[Path] = []
        try:
            v1 = _v1_dirs()
            if v1 is not None:
                pids_dir, cpu_dir = v1["pids"] / name, v1["cpu"] / name
                made += [pids_dir, cpu_dir] if pids_dir != cpu_dir else [pids_dir]
                for d in made:
                    d.mkdir()
                (pids_dir / "pids.max").write_text(str(processes))
                if cpus:
                    (cpu_dir / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                    (cpu_dir / "cpu.cfs_quota_us").write_text(str(int(cpus * CPU_PERIOD_US)))
                return cls(made)
            v2 = _v2_dir()
            if v2 is None:
                _warn_once("no writable cgroup v1 pids/cpu hierarchy and no delegated cgroup v2 tree")
                return None
            group = v2 / name
            group.mkdir()
            made.append(group)
            (group / "pids.max").write_text(str(processes))
            if cpus:
                (group / "cpu.max").write_text(f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
            return cls(made)
        except OSError as exc:
            cls(made).close()
            _warn_once(f"{type(exc).__name__}: {exc}")
            return None

    def pids(self) -> set[int]:
        found = set()
        for d in self.dirs:
            try:
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def close(self, patience_s: float = 5.0) -> None:
        """Kill whatever is left in the group and remove it."""
        deadline = time.monotonic() + patience_s
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        for d in reversed(self.dirs):
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last exits are still being reaped
                    if time.monotonic() > deadline:
                        log.error("could not remove cgroup %s", d)
                        break
                    time.sleep(0.05)


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """True when a submission's group can be made here (checked once per process)."""
    group = SubmissionCgroup.create(processes=64, cpus=1.0)
    if group is None:
        return False
    group.close()
    return True
