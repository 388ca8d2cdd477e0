"""Who the runner is inside the sandbox: started as root, it hands the working folder to the kernel's
user and becomes that user for good; and no process of that user may open its pipes or trace it.

That user is a uid of the sandbox's own (the grader's kernel_users.py), which no /etc/passwd names. So
that what asks the user database for a name still gets one (getpass.getuser(), which torch's compile
cache folder uses), the runner sets USER and LOGNAME, which its kernels inherit; HOME is already set.
Standard library only: loaded by path by kernel_runner.py, which imports nothing from the course.
"""
from __future__ import annotations

import ctypes
import os
import pwd
from pathlib import Path

UNNAMED_USER = "student"  # the login name a kernel whose uid has no passwd entry goes by


def become(user: str, workdir: Path) -> None:
    """Started as root inside the sandbox: hand the workdir to `uid:gid` and become that user
    for good (no capabilities left), before anything of the student's runs."""
    uid, gid = (int(x) for x in user.split(":"))
    os.chown(workdir, uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = UNNAMED_USER
    os.environ["USER"] = os.environ["LOGNAME"] = name


def not_dumpable() -> None:
    """The kernel, same user, must not open /proc/<runner>/fd/* (our stdout) or ptrace us."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass
