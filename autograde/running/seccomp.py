"""The system calls a student's kernel may not make: a seccomp filter that bwrap installs (`--seccomp FD`)
just before it starts the runner, inherited by the kernel and everything it starts, for good.

Namespaces do not cover the whole host kernel. Keyrings are the case that bit: a key added to the user
keyring in one student's kernel was read by `keyctl` in the next one, since keyrings belong to a uid on the
host, not to a sandbox, and stay after the run. The filter follows Docker's default profile for what a
process that is not root in its namespace must not reach, restricted to what a Jupyter kernel never needs.
Each blocked call fails with EPERM (ENOSYS for clone3, as Docker does), never kills: a cell that tries one
gets an OSError and the notebook goes on.

Blocked:
- keyrings: add_key, keyctl, request_key. Per host uid, not per sandbox, and kept after the run.
- new namespaces and mounts: unshare, setns, clone with a CLONE_NEW* flag, clone3 (its flags sit in memory
  a filter cannot read; ENOSYS makes glibc fall back to clone, whose flags it can), mount, umount, umount2,
  pivot_root, chroot and the new mount API (fsopen, fsconfig, fsmount, fspick, open_tree, move_mount,
  mount_setattr). A user namespace would hand the kernel every capability inside it, and with it much
  more of the host kernel to probe.
- programs and code for the host kernel: bpf, perf_event_open, userfaultfd (a way to stall the kernel at
  will, used by many exploits), io_uring_setup/enter/register (beyond Docker's list: the source of many
  recent kernel bugs, and no Python library needs it), init_module, finit_module, delete_module,
  kexec_load, kexec_file_load.
- the machine: reboot, swapon, swapoff, acct, syslog, settimeofday, clock_settime, quotactl, quotactl_fd,
  sethostname, setdomainname (the sandbox shares the host's UTS namespace), vhangup, iopl, ioperm.
- going around the allowlist of paths: open_by_handle_at opens a file by its inode handle, wherever it
  is on the file system (Docker's "shocker" escape).
- comparing or taking other processes' resources: kcmp, pidfd_getfd, process_madvise.
- sockets of the AF_VSOCK family: they talk to the hypervisor, outside the network namespace.
- obsolete calls no Python program makes: lookup_dcookie, nfsservctl, uselib, ustat, sysfs, _sysctl,
  vm86, vm86old, create_module, get_kernel_syms, query_module.

Allowed on purpose:
- setuid, setgid, setgroups, chown: the runner (root inside the sandbox with three capabilities) uses
  them to become the kernel's user (inside/runner_identity.py); then they need the capabilities it dropped.
- get_mempolicy, set_mempolicy, mbind, move_pages (Docker blocks them): NUMA placement of the process's
  own memory, which torch's CPU libraries may query.
- personality (Docker allows five values): a filter that allows by default cannot tell those from the
  others (libseccomp takes one comparison per argument); its flags only weaken the caller's own process.
- ptrace, process_vm_readv/writev (as Docker on current kernels): the runner is not dumpable, and other
  kernels are in other pid namespaces.

The filter is built with libseccomp (through `pyseccomp`, a ctypes binding) for the machine's ABI and
its 32-bit ones (x86 and x32 beside x86_64, arm beside aarch64), so `int 0x80` is no way around it.
Without libseccomp kernels run without it, with a loud warning (`autograde doctor` says so too).
"""
from __future__ import annotations

import errno
import functools
import logging
import os
import tempfile

log = logging.getLogger(__name__)

EPERM, ENOSYS = errno.EPERM, errno.ENOSYS
BLOCKED = {name: EPERM for name in (
    "add_key", "keyctl", "request_key",
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
    "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "syslog", "settimeofday", "clock_settime", "clock_settime64",
    "stime", "quotactl", "quotactl_fd", "sethostname", "setdomainname", "vhangup", "iopl", "ioperm",
    "open_by_handle_at", "kcmp", "pidfd_getfd", "process_madvise",
    "lookup_dcookie", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old",
    "create_module", "get_kernel_syms", "query_module",
)}
BLOCKED["clone3"] = ENOSYS
CLONE_NEW = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
             "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
             "CLONE_NEWNET": 0x40000000}
AF_VSOCK = 40
MISSING_WARNING = (
    "libseccomp (the Python package `pyseccomp` over the system's libseccomp2) cannot be loaded, so "
    "student kernels run WITHOUT the syscall filter: they can use the host's keyrings (a key one kernel "
    "adds can be read by the next), create namespaces and reach parts of the host kernel a kernel never "
    "needs. Fix: apt-get install libseccomp2 && pip install pyseccomp")


def _compat_arches(sc) -> list[int]:
    """The 32-bit ABIs a process of the native one can still call the kernel through."""
    return {sc.Arch.X86_64: [sc.Arch.X86, sc.Arch.X32], sc.Arch.AARCH64: [sc.Arch.ARM]}.get(sc.system_arch(), [])


def build() -> bytes:
    """The filter as a BPF program (what bwrap's --seccomp reads). Raises when libseccomp is missing."""
    import pyseccomp as sc  # raises RuntimeError without the system's libseccomp
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for arch in _compat_arches(sc):
        f.add_arch(arch)
    f.set_attr(sc.Attr.ACT_BADARCH, sc.ERRNO(ENOSYS))  # any other ABI: every call fails, nothing is killed
    for name, err in BLOCKED.items():
        if sc.resolve_syscall(sc.Arch.NATIVE, name) == -1:
            continue  # newer than this libseccomp: it cannot name it (nor, then, can the runner's glibc)
        f.add_rule(sc.ERRNO(err), name)
    for flag in CLONE_NEW.values():  # each flag its own rule: a rule compares an argument once
        f.add_rule(sc.ERRNO(EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(EPERM), "socket", sc.Arg(0, sc.EQ, AF_VSOCK))
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


@functools.lru_cache(maxsize=None)
def program() -> bytes | None:
    """The compiled filter, once per process; None (warned once, loudly) when libseccomp is missing."""
    try:
        return build()
    except (ImportError, RuntimeError, OSError) as exc:
        log.warning("%s (%s: %s)", MISSING_WARNING, type(exc).__name__, exc)
        return None


def program_fd(bpf: bytes) -> int:
    """A file descriptor holding `bpf` from its start, for bwrap's --seccomp (the caller closes it).
    A memfd: no file on disk, no pipe buffer to fill; close-on-exec until Popen's pass_fds hands it on."""
    fd = os.memfd_create("autograde-seccomp")
    try:
        view = memoryview(bpf)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd
