"""The runner's side of what crosses the sandbox wall: its event pipe, the probe files it reads
for the grader, and the size-capped folders it watches. Standard library only: loaded by path by
kernel_runner.py, which runs inside the sandbox and imports nothing from the course.
"""
from __future__ import annotations

import base64
import json
import os
import re
import stat
import threading
from pathlib import Path

PROBE_NAME = re.compile(r"[a-z0-9_]{1,100}\.json")
PROBE_BYTES = 20 * 2**20  # a probe file is a few kB; anything bigger is not ours
PROBE_SCAN_ENTRIES = 1000  # a probe folder stuffed with files is not read past this many entries
FULL_FREE_BYTES = 2**20  # a capped folder with less free space than this counts as full


class Events:
    """JSON lines to the parent on a private copy of stdout; fd 1 itself then points at stderr,
    so a stray print in a library cannot corrupt the stream."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "wb")  # os.dup: not inherited by the kernel
        os.dup2(2, 1)
        self._lock = threading.Lock()

    def send(self, **event) -> None:
        line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


def _read_regular(dir_fd: int, name: str) -> tuple[bytes, tuple] | None:
    """A regular file's bytes, never following a link or blocking on a FIFO; None if not one."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > PROBE_BYTES:
            return None
        data = os.read(fd, PROBE_BYTES + 1)
        return (data, (st.st_ino, st.st_size, st.st_mtime_ns)) if len(data) <= PROBE_BYTES else None
    finally:
        os.close(fd)


class Probes:
    """Sends each probe file the kernel wrote (`probe/<test_id>.json`) once per version."""

    def __init__(self, folder: Path, events: Events):
        self.folder, self.events = folder, events
        self._seen: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def scan(self) -> None:
        with self._lock:
            try:
                dir_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return
            try:
                with os.scandir(dir_fd) as entries:
                    names = [e.name for _, e in zip(range(PROBE_SCAN_ENTRIES), entries)]
                for name in sorted(n for n in names if PROBE_NAME.fullmatch(n)):
                    found = _read_regular(dir_fd, name)
                    if found is None or self._seen.get(name) == found[1]:
                        continue
                    self._seen[name] = found[1]
                    self.events.send(event="probe", name=name[:-5], data=base64.b64encode(found[0]).decode())
            finally:
                os.close(dir_fd)


class Capped:
    """The size-capped folders; `newly_full` names those a cell filled (full now, not before it)."""

    def __init__(self, folders: dict[str, Path] | None):
        self.folders, self._full = folders or {}, set()

    def newly_full(self) -> list[str]:
        full = set()
        for label, path in self.folders.items():
            try:
                st = os.statvfs(path)
            except OSError:
                continue
            if st.f_bavail * st.f_frsize < FULL_FREE_BYTES:
                full.add(label)
        new, self._full = sorted(full - self._full), full
        return new
