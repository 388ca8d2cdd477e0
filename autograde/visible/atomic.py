"""Write a file whole or not at all: readers (the judge, a second grader, a student's browser) never see
half a file, whether the writer is killed by a wall limit, Ctrl-C or a full disk.

The one way files are written wherever a half file could be read: the probe inside the kernel, the
grader's caches, the CSVs, pages and kit. The partial file is named after the writing process, so two
writers of the same path never write into one partial file; the last rename wins.

Modes: on a shared hub the course folder sits beside the students' homes, so what the grader writes
(executed notebooks with the hidden tests, every student's page and scores, caches) is for course staff
only: the owner and the group the folder gives its files, never other accounts. Files are created
PRIVATE_FILE and folders PRIVATE_DIR (a stricter umask still wins); the few files that are public on
purpose (the visible checks' data that sandboxed kernels read, the student kit) ask for PUBLIC_FILE.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

PRIVATE_FILE = 0o640  # owner writes, the course's group reads, other accounts nothing
PRIVATE_DIR = 0o750
PUBLIC_FILE = 0o644


def write_atomic(path: Path | str, data: str | bytes, encoding: str = "utf-8", mode: int = PRIVATE_FILE) -> Path:
    """Write `data` to `path` through a sibling partial file and a rename; return the path. The file is
    created with `mode` (less the umask), whatever mode an earlier file of that name had."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    raw = data if isinstance(data, bytes) else data.encode(encoding)
    try:
        partial.unlink(missing_ok=True)  # a leftover of a killed writer with this pid keeps its old mode
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def make_dirs(path: Path | str, mode: int = PRIVATE_DIR) -> Path:
    """`path` and every missing folder above it, each created with `mode` (less the umask): unlike
    `Path.mkdir(parents=True)`, which gives the folders above the default mode. Folders that exist
    keep theirs."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            if not folder.is_dir():  # a file where a folder must be: say so as mkdir -p would
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None
    return path
