"""A uid of its own for each sandboxed kernel, when the grader runs as root.

Kernels used to run as nobody (65534), like many host services. But the host kernel keeps some things
per uid, not per namespace: keyrings above all (kept after the last process of the uid is gone), and
the per-user counts and quotas (processes, inotify watches, keys). So two kernels alive at once (--jobs,
the kernel started ahead beside a running one) must never share a uid, and none may be a uid that
anything else on the host runs as.

The uids come from a block no user database names: FIRST .. LAST (0x7E000000 and the 64Ki after it), in
the range systemd leaves unassigned (above the container ranges it hands out, up to 0x6FFFFFFF, below its
"foreign" range at 0x7FFE0000) and below 2^31 (some tools read a uid as a signed int); a number that
/etc/passwd or /etc/group does name is skipped. The gid is the same number.

A uid is leased with an exclusive flock on a file named after it in locks_folder(), taken by the grading
process that starts the sandbox and held until that sandbox is gone (KernelProcess.close), which removes
the file. Every grading process on the machine (its --jobs processes, Dask workers) leases from the same
folder. A grader that dies takes its kernels with it (--die-with-parent) and the host kernel drops its
locks; the empty files it leaves are removed by the next grading process's first lease. The search
starts at a random uid, so a uid is seldom used twice in a row and the next student rarely inherits
anything the previous one could leave behind.
"""
from __future__ import annotations

import fcntl
import functools
import grp
import os
import pwd
import secrets
import stat
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

FIRST = 0x7E000000
COUNT = 1 << 16
LAST = FIRST + COUNT - 1


def locks_folder() -> Path:
    """Where the leases are: root's /run (a tmpfs, so a reboot clears it), else a hidden folder in the temp
    folder (hidden: the sweep of autograde-* folders must not take it)."""
    run = Path("/run")
    base = run if run.is_dir() and os.access(run, os.W_OK) else Path(tempfile.gettempdir())
    return base / ".autograde-kernel-uids"


@dataclass
class Lease:
    uid: int
    path: Path
    fd: int | None
    _close: weakref.finalize = field(init=False, repr=False)

    def __post_init__(self) -> None:  # a lease dropped without release() still frees its uid
        assert self.fd is not None  # made holding its lock
        self._close = weakref.finalize(self, os.close, self.fd)

    @property
    def gid(self) -> int:
        return self.uid

    @property
    def user(self) -> str:
        """As the runner's --user takes it."""
        return f"{self.uid}:{self.gid}"

    def release(self) -> None:
        """Give the uid back (only once its sandbox is gone); safe to call twice."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked (see _try_lock)
        self._close()
        self.fd = None


def _named(uid: int) -> bool:
    """Whether a user database (passwd, group) names this number."""
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def _folder(folder: Path) -> Path:
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PermissionError(f"{folder} is not a folder only this user can write to")
    return folder


def _try_lock(path: Path) -> int | None:
    """An fd that holds the lock on the file at `path` (made if missing), or None when another holds it.
    A lock won on a file its holder removed meanwhile (released) is no lease: the path must still be it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        mine, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


@functools.lru_cache(maxsize=None)
def _sweep_once(folder: Path) -> None:
    """Remove the files of leases whose grader died (no one holds their lock), once per process."""
    for path in folder.iterdir():
        if path.name.isdigit() and (fd := _try_lock(path)) is not None:
            path.unlink(missing_ok=True)
            os.close(fd)


def lease(folder: Path | None = None) -> Lease:
    """A uid from the block that no other live sandbox on this machine holds."""
    folder = _folder(folder or locks_folder())
    _sweep_once(folder)
    start = secrets.randbelow(COUNT)
    for step in range(COUNT):
        uid = FIRST + (start + step) % COUNT
        if not _named(uid) and (fd := _try_lock(folder / str(uid))) is not None:
            return Lease(uid, folder / str(uid), fd)
    raise RuntimeError(f"all {COUNT} kernel uids ({FIRST}-{LAST}) are in use")
