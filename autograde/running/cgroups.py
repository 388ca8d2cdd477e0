"""A control group per graded submission: a cap on its processes, its CPU time and its memory.

The sandbox bounds time and what a submission can see, and RLIMIT_AS bounds each process's address
space, but not how many processes it starts (a fork bomb), how many cores it keeps busy (a loop
that sets 16 torch threads, or forks spinners), or how much memory its processes take together:
three children of 2.75 GiB each and 1 GiB written to /dev/shm pass every per-process limit. All of
these would slow or starve the rest of the class. A cgroup bounds them, and the kernel, not our
bookkeeping, enforces it. The memory cap counts every page the group uses, its tmpfs files (/tmp,
/dev/shm, the working folder) included; when it is reached the kernel's OOM killer stops a process
of the group, and `oom_kills` says how many times that happened, so the grader can say "memory".

Works as root with cgroup v1 (separate `pids`, `cpu` and `memory` hierarchies, as on this machine)
or with a delegated cgroup v2 tree. Where neither can be written, `SubmissionCgroup.create`
returns None and says why once; grading goes on with the other limits. A v1 machine without a
`memory` hierarchy (or a v2 tree without the memory controller) gets the other caps and a warning.
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
    paths: dict[str, str] = {}
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
    """Where to make our groups under cgroup v1: {'pids': dir, 'cpu': dir, 'memory': dir}
    ('memory' only where that hierarchy is mounted)."""
    own = _own_paths()
    found: dict[str, Path] = {}
    for name in ("pids", "cpu", "memory"):
        mount = next((m for m in (CGROUP_ROOT / name, CGROUP_ROOT / "cpu,cpuacct")
                      if name in m.name.split(",") and (m / "cgroup.procs").exists()), None)
        if mount is None or name not in own:
            if name == "memory":
                continue
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
def _warn_no_memory_once() -> None:
    log.warning("no memory controller for the per-submission cgroup: a submission's processes and "
                "tmpfs files together are not capped (each process still has RLIMIT_AS).")


@functools.lru_cache(maxsize=None)
def _warn_once(reason: str) -> None:
    log.warning("no per-submission cgroup (%s): a submission's process count and CPU use are not "
                "capped. Run the grader as root, or give it a delegated cgroup v2 tree.", reason)


def _set_memory(group: Path, names: tuple[str, str], values: tuple[int, int]) -> bool:
    """Write the memory cap (the first file), then the swap cap (the second, where swap is accounted).
    False when the cap itself could not be set: the group then has no memory cap, only the others."""
    try:
        (group / names[0]).write_text(str(int(values[0])))
    except OSError:
        return False
    try:
        if (group / names[1]).exists():
            (group / names[1]).write_text(str(int(values[1])))
    except OSError:
        pass
    return True


class SubmissionCgroup:
    """One submission's group(s). launch.py moves the kernel in before exec; `close` empties and removes."""

    def __init__(self, dirs: list[Path], memory: Path | None = None):
        self.dirs = dirs
        self.memory = memory  # the group whose memory is capped (None: no memory controller)
        self._oom_kills = 0  # the last count read: what `oom_kills` says once the group is gone

    @classmethod
    def create(cls, processes: int, cpus: float | None, memory_bytes: int | None = None,
               prefix: str = "autograde-") -> "SubmissionCgroup | None":
        """The groups for one submission: at most `processes` tasks, `cpus` cores, `memory_bytes` of
        memory for all its processes and tmpfs files together (None or 0: that cap is not set).
        `prefix` names the grader run that made it (sandbox_sweep.workdir_prefix: the sweep reads it)."""
        name = f"{prefix}{uuid.uuid4().hex[:12]}"
        made: list[Path] = []
        try:
            v1 = _v1_dirs()
            if v1 is not None:
                pids_dir, cpu_dir = v1["pids"] / name, v1["cpu"] / name
                mem_dir = v1["memory"] / name if "memory" in v1 else None
                made += list(dict.fromkeys(d for d in (pids_dir, cpu_dir, mem_dir) if d is not None))
                for d in made:
                    d.mkdir()
                (pids_dir / "pids.max").write_text(str(processes))
                if cpus:
                    (cpu_dir / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                    (cpu_dir / "cpu.cfs_quota_us").write_text(str(int(cpus * CPU_PERIOD_US)))
                capped = memory_bytes is not None and memory_bytes != 0 and mem_dir is not None and _set_memory(
                    mem_dir, ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"), (memory_bytes, memory_bytes))
                if memory_bytes and not capped:
                    _warn_no_memory_once()
                return cls(made, mem_dir if capped else None)
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
            capped = memory_bytes is not None and memory_bytes != 0 and _set_memory(
                group, ("memory.max", "memory.swap.max"), (memory_bytes, 0))
            if memory_bytes and not capped:
                _warn_no_memory_once()
            return cls(made, group if capped else None)
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

    def oom_kills(self) -> int:
        """How many processes the OOM killer stopped in this group because it reached its memory cap
        (cgroup v2 memory.events, v1 memory.oom_control: the 'oom_kill' line). After `close`: the
        count read last."""
        if self.memory is None:
            return 0
        name = "memory.events" if (self.memory / "memory.events").exists() else "memory.oom_control"
        try:
            lines = (self.memory / name).read_text().splitlines()
        except OSError:
            return self._oom_kills
        counts = dict(line.split(None, 1) for line in lines if " " in line)
        try:
            self._oom_kills = max(self._oom_kills, int(counts.get("oom_kill", 0)))
        except ValueError:
            pass
        return self._oom_kills

    def close(self, patience_s: float = 5.0) -> None:
        """Kill whatever is left in the group and remove it."""
        self.oom_kills()  # the last count, for whoever asks after the group is gone
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
