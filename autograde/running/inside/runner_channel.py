"""The runner's side of what crosses the sandbox wall: its event pipe, the probe files it reads
for the grader, the size-capped folders it watches and the byte caps on the notebook's outputs.
Standard library only: loaded by path by kernel_runner.py, which runs inside the sandbox and
imports nothing from the course.
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
        self.folders, self._full = folders or {}, set[str]()

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


OUTPUT_OVERHEAD = 64  # the keys around an output's content in the notebook's JSON ("output_type"...)


def output_size(output: dict) -> int:
    """About the bytes one output (or a kernel message's content) takes in the notebook's JSON."""
    if "data" in output:
        size = len(json.dumps(output.get("data"))) + len(json.dumps(output.get("metadata", {})))
    elif "text" in output:
        size = len(json.dumps(output.get("text")))
    else:
        size = len(json.dumps([output.get("ename"), output.get("evalue"), output.get("traceback")]))
    return size + OUTPUT_OVERHEAD


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MB"


def clip_bundle(content: dict, most: int) -> list[str]:
    """Make one rich output (a display_data/execute_result message's data and metadata) fit in
    `most` bytes: its largest values are dropped until it does, and a text/plain note says which.
    Returns what was dropped ('image/png of 7.5 MB'), in the student's words."""
    data = content.get("data")
    if not isinstance(data, dict):
        return []
    if len(json.dumps(content.get("metadata", {}))) > most:
        content["metadata"] = {}
    sizes = {mime: len(json.dumps(value)) for mime, value in data.items()}
    dropped = []
    while data and sum(sizes.values()) > most:
        mime = max(sizes, key=sizes.__getitem__)
        dropped.append(f"{mime} of {_megabytes(sizes.pop(mime))}")
        del data[mime]
    if dropped:
        data["text/plain"] = (f"[autograde: this output was dropped ({', '.join(dropped)}): "
                              f"each output may hold at most {_megabytes(most)}]")
    return dropped


class OutputBudget:
    """What the notebook's outputs may hold in bytes: each cell's outputs together, and all cells'.

    Counted as outputs are stored, so a cell that prints or draws in a loop cannot grow the runner's
    memory, the event stream or the files the grader writes past these caps. A cell's count starts
    again when its outputs are cleared (it runs again after a restart, or calls clear_output)."""

    def __init__(self, cell_bytes: int, notebook_bytes: int):
        self.cell_bytes, self.notebook_bytes = cell_bytes, notebook_bytes
        self.used: dict[int, int] = {}
        self.total = 0

    def reset(self, cell: int) -> None:
        self.total -= self.used.pop(cell, 0)

    def admit(self, cell: int, size: int, force: bool = False) -> str | None:
        """Count `size` more bytes (negative: fewer) for `cell`. Returns None when they fit; else
        which cap they pass, 'notebook' or 'cell', and nothing is counted (unless `force`)."""
        used = self.used.get(cell, 0)
        why = None
        if size > 0 and self.total + size > self.notebook_bytes:
            why = "notebook"
        elif size > 0 and used + size > self.cell_bytes:
            why = "cell"
        if why is None or force:
            self.used[cell], self.total = used + size, self.total + size
        return why

    def note(self, why: str) -> str:
        if why == "notebook":
            return (f"\n[autograde: your notebook's outputs passed {_megabytes(self.notebook_bytes)} in total; "
                    f"this output and later ones were dropped]\n")
        return (f"\n[autograde: this cell's outputs passed {_megabytes(self.cell_bytes)}; "
                f"its later outputs were dropped]\n")
