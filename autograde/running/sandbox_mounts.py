"""What a student's kernel sees: an allowlist, not a blacklist.

The sandbox starts from an empty root and mounts, read-only, only what runs Python and the
lesson: the system's programs and libraries (/usr and its /bin, /lib links), the few files of
/etc that the loader, Python, SSL and matplotlib read (not /etc/shadow), /sys, devices (with the
GPUs), the interpreter and venv, and the paths the caller exposes (the student-visible course
modules and data). Writable: a private /tmp, /dev/shm and the working folder, each a tmpfs
with a size cap, so nothing the kernel writes reaches the host's disk. Everything else on the
machine (homes, /root, /srv, /mnt, /opt, other clones of the course, the host's /tmp) does not
exist inside. The system calls it may make are filtered too (seccomp.py: bwrap loads the program).
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Sequence

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("alternatives", "ca-certificates", "ca-certificates.conf", "fonts", "group", "host.conf", "hosts",
       "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "matplotlibrc", "mime.types",
       "nsswitch.conf", "os-release", "passwd", "pki", "ssl", "timezone")
KERNEL_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN")  # only for the runner to drop to the kernel's user


def gpu_devices() -> list[str]:
    """NVIDIA device nodes of this machine (none on a CPU machine)."""
    return sorted(glob.glob("/dev/nvidia*"))


def _system() -> tuple[list[list[str]], list[list[str]]]:
    """(symlinks, mounts) for the system folders and /etc files that exist here."""
    links, mounts = [], []
    for name in SYSTEM:
        path = Path(name)
        if path.is_symlink():  # merged /usr: /bin -> usr/bin
            links.append(["--symlink", os.readlink(path), name])
        elif path.is_dir():
            mounts.append(["--ro-bind", name, name])
    for name in ETC:
        path = Path("/etc", name)
        if path.exists():
            mounts.append(["--ro-bind", str(path), str(path)])
    return links, mounts


def bwrap_args(exe: str, workdir: Path, *, expose: Sequence[Path], hide: Sequence[Path] = (),
               workdir_bytes: int, scratch_bytes: int, drop_user: bool, seccomp_fd: int | None = None) -> list[str]:
    """The bwrap command line (without the command to run).

    Mounts are applied shallowest path first so the most specific rule wins: a path exposed
    inside another exposed one is just bound twice, a `hide` folder inside an exposed one is
    an empty read-only tmpfs, and the working folder is writable wherever it lives. The folders
    above each mount are made world-traversable (bwrap would copy a host mode such as /root's 0700,
    which the kernel's user could not pass).
    `drop_user`: keep the three capabilities the runner needs to become the kernel's user.
    `seccomp_fd`: a file descriptor (passed on to bwrap) holding the syscall filter's BPF program."""
    links, system = _system()
    ranked = [(0, m) for m in system] + [(0, ["--ro-bind", "/sys", "/sys"])]
    ranked += [(2, ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", "/tmp"]),
               (2, ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", "/dev/shm"]),
               (3, ["--perms", "0700", "--size", str(workdir_bytes), "--tmpfs", str(workdir)])]
    for path in expose:
        path = Path(path).resolve()
        if path.exists():
            ranked.append((1, ["--ro-bind", str(path), str(path)]))
    hidden = []
    for path in hide:
        path = Path(path).resolve()
        if path.is_dir():
            ranked.append((2, ["--size", str(2**20), "--tmpfs", str(path)]))
            hidden.append(path)
        elif path.exists():  # a single file: show an empty one instead
            ranked.append((2, ["--ro-bind", "/dev/null", str(path)]))
    above = {str(a) for _, m in ranked for a in Path(m[-1]).parents if a != Path("/")}
    ranked += [(-1, ["--perms", "0755", "--dir", a]) for a in above]
    ranked.sort(key=lambda rm: (len(Path(rm[1][-1]).parts), rm[0]))
    args = [exe, "--dev", "/dev", "--proc", "/proc"]
    for link in links:
        args += link
    for _, mount in ranked:
        args += mount
    for device in gpu_devices():  # the fresh /dev has no GPU nodes: bind them so kernels can train on it
        args += ["--dev-bind", device, device]
    for path in hidden:  # read-only, so they cannot be used as scratch space either
        args += ["--remount-ro", str(path)]
    args += ["--remount-ro", "/", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
             "--new-session", "--cap-drop", "ALL"]
    for cap in KERNEL_CAPS if drop_user else ():
        args += ["--cap-add", cap]
    if seccomp_fd is not None:  # loaded last, just before the runner starts: bwrap's own setup is not filtered
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--chdir", str(workdir)]
