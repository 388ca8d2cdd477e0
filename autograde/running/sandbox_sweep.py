"""Leftovers: the processes of a finished run, and what a killed grader left behind (its
autograde-* working folders, its cgroups, and any process of it that outlived it).

A run kills what is left of its processes (`kill_leftovers`) and cleans up after itself. A grader
killed with SIGKILL takes its processes with it (its pool workers die with it, see trusted/grade.py,
and every kernel with the process that started it, see launch.py), but not what it made on disk and
in the cgroup hierarchy: the working folders (a kernel started ahead has one of its own in the host's
temp folder) and the cgroups. Each is named after its *owner*, the grader run that made it: the pid
of the grading process and when that process started (`autograde-<pid>-<start>-...`; a pool worker
names its grader, see `adopt`), and each run's id (AUTOGRADE_RUN_ID in every process of the run)
begins with it. The next grader, once, at its first run, removes the folders and cgroups whose owner
is gone, killing whatever is still in them, and kills any process whose run id names a gone owner.
A pid alone would not do: pids are reused (32,768 of them on many machines), and a folder of a dead
grader whose pid now names another process would stay for good. Folders named after a pid alone
(older versions) go once that pid is gone; those named without a pid, once they are an hour old, as
miniai does with `.building-*`.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from autograde.running import cgroups

log = logging.getLogger(__name__)

PREFIX = "autograde-"
STALE_S = 3600  # a folder without an owner pid this old is a leftover (a run lasts minutes)
_OWNER = re.compile(r"autograde-(\d+)-(?:(\d+)-)?")  # the pid, and (since pids are reused) its start
_RUN_OWNER = re.compile(r"(\d+)-(\d+)-[0-9a-f]+")
_grader: str | None = None  # in a pool worker: the owner of the grader that started it (adopt)


def started(pid: int) -> int | None:
    """When process `pid` started, in hundredths of a second since boot (what setting the clock does not
    move); None when there is no such process, or only its zombie."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return round((proc.create_time() - psutil.boot_time()) * 100)
    except psutil.Error:
        return None


def owner_of(pid: int) -> str:
    """The owner name of a grader run whose grading process is `pid`: '<pid>-<start>'."""
    return f"{pid}-{started(pid)}"


@functools.lru_cache(maxsize=None)
def _own(pid: int) -> str:  # by pid: a forked child is a run of its own
    return owner_of(pid)


def owner() -> str:
    """This grader run's owner name: this process's, or in a pool worker its grader's."""
    return _grader or _own(os.getpid())


def adopt(grader: str) -> None:
    """In a pool worker: name what it makes after its grader (the worker dies with it)."""
    global _grader
    _grader = grader


def new_run_id() -> str:
    """A fresh run id, which names its owner (so the sweep can tell a run of a dead grader)."""
    return f"{owner()}-{uuid.uuid4().hex}"


def _alive(pid: int, start: int | None) -> bool:
    """Whether the owner `pid` (started at `start`, when known) is still running."""
    now = started(pid)
    return now is not None and (start is None or abs(now - start) <= 1)


def _run_processes(run_id: str) -> list[psutil.Process]:
    """The processes (other than this one) whose environment carries this run's AUTOGRADE_RUN_ID."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get("AUTOGRADE_RUN_ID") == run_id:
                found.append(proc)
        except (psutil.Error, OSError):  # gone, a zombie, or not ours to read
            pass
    return found


def kill_leftovers(run_id: str, patience_s: float = 3.0) -> int:
    """SIGKILL every process still carrying this run's AUTOGRADE_RUN_ID.

    Inside bwrap the pid namespace already takes everything down with the runner;
    this is the safety net, and the only net in fallback mode (where a process
    started with a new session escapes the process-group kill)."""
    deadline, killed = time.monotonic() + patience_s, 0
    while procs := _run_processes(run_id):
        for proc in procs:
            try:
                proc.kill()
                killed += 1
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=0.05)
        if time.monotonic() > deadline:
            log.error("processes %s of run %s would not die", [p.pid for p in procs], run_id)
            break
    return killed


def kill_orphans() -> int:
    """SIGKILL every process whose run id names an owner that is gone (it outlived its grader); how many.
    Only a sweep's safety net: the pool workers and the kernels die with their parents."""
    verdicts: dict[tuple, bool] = {}
    killed = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid():
                continue
            run = _RUN_OWNER.fullmatch(proc.environ().get("AUTOGRADE_RUN_ID", ""))
            if run is None:
                continue
            if run.groups() not in verdicts:
                verdicts[run.groups()] = _alive(int(run[1]), int(run[2]))
            if not verdicts[run.groups()]:
                proc.kill()
                killed.append(proc)
        except (psutil.Error, OSError):  # gone, a zombie, or not ours to read
            pass
    psutil.wait_procs(killed, timeout=1)
    return len(killed)


def workdir_prefix() -> str:
    """The prefix of a working folder owned by this grader run (for tempfile's `prefix=`; cgroups too)."""
    return f"{PREFIX}{owner()}-"


def is_stale(path: Path, now: float | None = None) -> bool:
    """True when `path` (an autograde-* folder or cgroup) belongs to no live grader run."""
    if path.name.startswith(workdir_prefix()):
        return False
    named = _OWNER.match(path.name)
    if named:
        return not _alive(int(named[1]), int(named[2]) if named[2] else None)
    try:
        return (now or time.time()) - path.lstat().st_mtime > STALE_S
    except OSError:
        return False


def sweep_folders(folder: Path | None = None) -> list[Path]:
    """Remove the stale autograde-* folders directly under `folder` (the temp folder); return them."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if path.is_dir() and not path.is_symlink() and is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def sweep_cgroups() -> list[Path]:
    """Kill what is left in the stale autograde-* cgroups next to the ones this process would make, and
    remove them."""
    removed = []
    for parent in cgroups.group_parents():
        for path in parent.glob(f"{PREFIX}*"):
            if path.is_dir() and is_stale(path):
                cgroups.SubmissionCgroup([path]).close()
                removed.append(path)
    return removed


@functools.lru_cache(maxsize=None)
def sweep_once() -> None:
    """Sweep the processes, folders and cgroups of dead grader runs, once per process; never fails a run."""
    try:
        killed = kill_orphans()
        found = sweep_folders() + sweep_cgroups()
    except OSError as exc:
        log.warning("could not sweep the leftovers of earlier runs: %s", exc)
        return
    if killed:
        log.warning("killed %d process(es) left running by killed grading runs", killed)
    if found:
        log.info("removed %d leftover(s) of killed grading runs: %s", len(found),
                 ", ".join(p.name for p in found[:5]))
