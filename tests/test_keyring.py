"""Kernels share nothing through the host kernel (issue 21, item 2): a seccomp filter refuses the keyring
calls (and the other calls of seccomp.py's list) with EPERM, and run as root the grader gives each kernel
alive at a time a uid of its own, named in no user database.

Real sandboxes and kernels: student A adds a key to its user keyring while the kernel for student B is
started ahead beside it (as the grader does); then B looks for that key. Before this change both ran as
uid 65534, A's key was added and B read it. No torch except in the one test that shows a normal
notebook still runs under the filter. About 20 s in all."""
from __future__ import annotations

import logging
import os
import pwd
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograde.running import ahead, kernel_users, sandbox, seccomp
from autograde.running.sandbox import Limits, run_notebook

needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_available(), reason="bwrap is not usable here")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="kernels get uids of their own only when the grader is root")
LIMITS = Limits(wall_s=60, cell_s=30, memory_bytes=4 * 2**30)
OPENING = "import time\nopened_at = time.time()"
EPERM = 1

SYSCALLS = """import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(number, *args):
    result = libc.syscall(number, *args)
    return result if result >= 0 else -ctypes.get_errno()
SYS_add_key, SYS_keyctl, SYS_kcmp = 248, 250, 312  # x86_64
KEY_SPEC_USER_KEYRING, KEYCTL_SEARCH, KEYCTL_SET_TIMEOUT = ctypes.c_long(-4), 10, 15
"""
ADD_KEY = """key = call(SYS_add_key, b"user", {desc!r}, b"answers", 7, KEY_SPEC_USER_KEYRING)
if key > 0:  # added (the bug): let it expire within a minute whatever happens here
    call(SYS_keyctl, KEYCTL_SET_TIMEOUT, key, 60)
print(key, os.getuid(), os.getgid())"""
FIND_KEY = """print(call(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, b"user", {desc!r}, 0), os.getuid(), os.getgid())"""


def notebook(*sources: str):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i}"
    return nb


def text(result, index: int) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in result.notebook["cells"][index].get("outputs", []))


def key_users() -> dict[int, str]:
    """The host's /proc/key-users: uid -> its line, for every uid that has keys (or a keyring)."""
    lines = Path("/proc/key-users").read_text().splitlines()
    return {int(line.split(":")[0]): line for line in lines}


def a_beside_b(tmp_path: Path, desc: bytes) -> tuple:
    """A adds a key while B's kernel is started ahead beside it; then B looks for it.
    Returns (A's line, B's line): 'result uid gid'."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def start_b():
        ahead.start(notebook(OPENING), limits=LIMITS, env=None, hide=[], expose=[])
    a = run_notebook(notebook(OPENING, SYSCALLS, ADD_KEY.format(desc=desc)), tmp_path / "a", limits=LIMITS,
                     on_handed_over=start_b)
    assert a.status == "ok" and not a.cell_errors, a.message
    b = run_notebook(notebook(OPENING, SYSCALLS, FIND_KEY.format(desc=desc)), tmp_path / "b", limits=LIMITS,
                     started=ahead.take())
    assert b.status == "ok" and b.started_ahead and not b.cell_errors, b.message
    return [int(x) for x in text(a, 2).split()], [int(x) for x in text(b, 2).split()]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return a_beside_b(tmp_path_factory.mktemp("pair"), f"autograde-test-{uuid.uuid4().hex}".encode())


# --------------------------------------------------------------------------- keyrings


@needs_bwrap
def test_adding_a_key_to_the_user_keyring_is_refused(pair):
    (added, *_), _ = pair
    assert added == -EPERM


@needs_bwrap
def test_the_kernel_started_ahead_beside_it_finds_no_key(pair):
    _, (found, *_) = pair
    assert found == -EPERM  # the search itself is refused: there is nothing it could find


@needs_bwrap
@pytest.mark.skipif(not Path("/proc/key-users").exists(), reason="this kernel has no keyrings")
def test_nothing_of_either_kernel_is_on_the_host_keyrings(pair):
    (_, uid_a, _), (_, uid_b, _) = pair
    assert {uid_a, uid_b} & set(key_users()) == set()


# --------------------------------------------------------------------------- uids


@needs_bwrap
@needs_root
def test_two_kernels_alive_at_once_run_as_uids_of_their_own(pair):
    (_, uid_a, gid_a), (_, uid_b, gid_b) = pair
    assert uid_a != uid_b
    assert (gid_a, gid_b) == (uid_a, uid_b)
    for uid in (uid_a, uid_b):
        assert kernel_users.FIRST <= uid <= kernel_users.LAST and uid != 65534
        with pytest.raises(KeyError):
            pwd.getpwuid(uid)


@needs_bwrap
@needs_root
def test_without_the_filter_the_uids_alone_keep_keyrings_apart(tmp_path, monkeypatch):
    """Defence in depth: where libseccomp is missing (warned), B still cannot read A's key."""
    monkeypatch.setattr(sandbox, "_syscall_filter", lambda: None)
    (added, uid_a, _), (found, uid_b, _) = a_beside_b(tmp_path, f"autograde-test-{uuid.uuid4().hex}".encode())
    try:
        assert added > 0  # no filter: the key is added, to uid_a's keyring (it expires in a minute)
        assert found == -126  # ENOKEY: B, another uid, has a keyring of its own
    finally:
        for uid in (uid_a, uid_b):
            drop_user_keyrings(uid)


def drop_user_keyrings(uid: int) -> None:
    """Invalidate the user and user-session keyrings the run above made for `uid` on the host: their ids
    first (naming one by its special id again would make a new one), then each by id."""
    code = ("import ctypes, os\nos.setgroups([]); os.setgid({uid}); os.setuid({uid})\nlibc = ctypes.CDLL(None)\n"
            "ids = [libc.syscall(250, 0, ctypes.c_long(ring), 0) for ring in (-4, -5)]  # KEYCTL_GET_KEYRING_ID\n"
            "for i in ids:\n    libc.syscall(250, 21, ctypes.c_long(i))  # KEYCTL_INVALIDATE")
    subprocess.run([sys.executable, "-c", code.format(uid=uid)], check=True, timeout=30)


def test_leases_held_at_once_never_share_a_uid_even_across_processes(tmp_path, monkeypatch):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import secrets, sys\nfrom pathlib import Path\nsecrets.randbelow = lambda n: 0\n"
         "from autograde.running import kernel_users\nheld = kernel_users.lease(Path(sys.argv[1]))\n"
         "print(held.uid, flush=True)\n"
         "sys.stdin.read()", str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        held = int(holder.stdout.readline())
        monkeypatch.setattr(kernel_users.secrets, "randbelow", lambda n: 0)  # the same first choice
        mine = [kernel_users.lease(tmp_path) for _ in range(3)]
        assert held == kernel_users.FIRST
        assert [m.uid for m in mine] == [kernel_users.FIRST + 1, kernel_users.FIRST + 2, kernel_users.FIRST + 3]
        mine[0].release()
        assert kernel_users.lease(tmp_path).uid == kernel_users.FIRST + 1  # given back: free again
    finally:
        holder.communicate("")
    assert kernel_users.lease(tmp_path).uid == kernel_users.FIRST  # its holder gone, so is its lease


# --------------------------------------------------------------------------- the filter


@needs_bwrap
def test_the_filter_refuses_other_calls_while_a_torch_notebook_runs(tmp_path):
    """kcmp (a process comparing its memory with its own: 0 without the filter) and unshare (EINVAL without
    it, the kernel being threaded) are refused before the host kernel looks at them; threads, subprocesses,
    DataLoader workers and torch's own threads still run."""
    result = run_notebook(notebook(
        SYSCALLS,
        "print(call(SYS_kcmp, os.getpid(), os.getpid(), 1, 0, 0))\n"  # KCMP_VM
        "print(-ctypes.get_errno() if libc.unshare(0x10000000) else 0)",  # CLONE_NEWUSER
        "import subprocess, threading, torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "torch.set_num_threads(2)\nt = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
        "print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n"
        "x = torch.randn(64, 8)\nprint(sum(len(b) for b, in DataLoader(TensorDataset(x), batch_size=16, num_workers=2)))\n"
        "print(tuple((x @ x.T).shape))"), tmp_path, limits=LIMITS)
    assert result.status == "ok" and not result.cell_errors, result.message
    assert text(result, 1) == f"{-EPERM}\n{-EPERM}\n"
    assert text(result, 2) == "thread\nchild\n64\n(64, 64)\n"


def test_the_filter_blocks_the_keyring_calls_with_eperm_and_never_kills():
    assert {n: seccomp.BLOCKED[n] for n in ("add_key", "keyctl", "request_key")} == {n: EPERM for n in
                                                                                    ("add_key", "keyctl", "request_key")}
    assert set(seccomp.BLOCKED.values()) == {EPERM, 38}  # ENOSYS for clone3 only, as Docker does


def test_without_libseccomp_the_grader_warns_and_the_doctor_says_so(monkeypatch, caplog):
    from autograde import doctor
    monkeypatch.setitem(sys.modules, "pyseccomp", None)  # import fails as without the library
    seccomp.program.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=seccomp.__name__):
            assert seccomp.program() is None
            assert seccomp.program() is None
    finally:
        seccomp.program.cache_clear()
    assert [r.getMessage().startswith(seccomp.MISSING_WARNING) for r in caplog.records] == [True]  # once
    [off] = doctor.syscall_filter_findings(True, False)
    [on] = doctor.syscall_filter_findings(True, True)
    assert (off.status, on.status) == (doctor.WARN, doctor.OK) and "pyseccomp" in off.fix
