"""Leftovers: the processes of a finished run, and what a killed grading run left behind
(/tmp/autograde-* folders and empty cgroups).

A run kills what is left of its processes (`kill_leftovers`) and cleans up after itself, but a
grader killed with SIGKILL (or a machine that lost power) leaves its working folders and cgroups
behind. Each is named after the process that made it (`autograde-<pid>-...`), so the next grader
removes those whose process is gone, once, at its first run; folders named without a pid (older
versions, `autograde check`) go once they are an hour old, as miniai does with `.building-*`.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import psutil

from autograde.running import cgroups

log = logging.getLogger(__name__)

PREFIX = "autograde-"
STALE_S = 3600  # a folder without an owner pid this old is a leftover (a run lasts minutes)
_OWNER = re.compile(r"autograde-(\d+)-")


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


def workdir_prefix() -> str:
    """The prefix of a working folder owned by this process (for tempfile's `prefix=`)."""
    return f"{PREFIX}{os.getpid()}-"


def is_stale(path: Path, now: float | None = None) -> bool:
    """True when `path` (an autograde-* folder) belongs to no live process."""
    owner = _OWNER.match(path.name)
    if owner:
        pid = int(owner.group(1))
        return pid != os.getpid() and not psutil.pid_exists(pid)
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
    """Empty and remove the stale autograde-* cgroups next to the ones this process would make."""
    removed = []
    for parent in cgroups.group_parents():
        for path in parent.glob(f"{PREFIX}*"):
            if path.is_dir() and is_stale(path):
                cgroups.SubmissionCgroup([path]).close()
                removed.append(path)
    return removed


@functools.lru_cache(maxsize=None)
def sweep_once() -> None:
    """Sweep both, once per process; never fails a run."""
    try:
        found = sweep_folders() + sweep_cgroups()
    except OSError as exc:
        log.warning("could not sweep the leftovers of earlier runs: %s", exc)
        return
    if found:
        log.info("removed %d leftover(s) of killed grading runs: %s", len(found),
                 ", ".join(p.name for p in found[:5]))
