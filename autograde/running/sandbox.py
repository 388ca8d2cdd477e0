"""Run one untrusted student notebook in bounded time and isolation.

The whole execution (nbclient *and* the kernel, see `kernel_runner`) runs inside bubblewrap, built
by allowlist (sandbox_mounts.py): the kernel sees the system, Python, the exposed course modules and
data, read-only, and writes only to size-capped private folders (its working folder, /tmp, /dev/shm).
There is no network, no view of host processes and no way to outlive the run (pid namespace +
--die-with-parent), and a seccomp filter keeps it from the host kernel's shared parts (seccomp.py).
When the grader runs as root, the runner drops to a uid of the sandbox's own (kernel_users.py) before
the kernel starts. Memory is bounded by RLIMIT_AS, time by a per-cell timeout
(interrupt, go on) and a wall limit (SIGKILL everything); a kernel that dies in a cell is restarted
without that cell (kernel_runner).

Nothing here decides a grade, and nothing the kernel can write is read on the host: the notebook
goes to the runner on its stdin, and everything comes back as events on its stdout
(sandbox_events.py), including the probe data the hidden test cells wrote (`RunResult.probes`).

Without bwrap the same runner is used with rlimits, a new session and a private cwd/HOME, but
*without* isolation; that is loudly warned about and reported as `RunResult.sandboxed = False`.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


from autograde.running import kernel_users, sandbox_mounts, sandbox_sweep, seccomp
from autograde.running.inside import kernel_runner
from autograde.running.cgroups import SubmissionCgroup
from autograde.running.sandbox_events import cap_notes, executed_notebook, summarize
from autograde.running.kernel_process import KernelProcess

log = logging.getLogger(__name__)

RUNNER = Path(kernel_runner.__file__).resolve()
INSIDE = RUNNER.parent  # running/inside/: what runs inside the sandbox besides Python, exposed whole
LAUNCH = Path(__file__).with_name("launch.py")  # runs outside, in front of the sandbox
SCRATCH_BYTES = 2 * 2**30  # size cap of the private /tmp and /dev/shm (RAM-backed, not under RLIMIT_AS)
INTERRUPT_GRACE_S = 10  # a timed-out cell that has not stopped this long after the interrupt ends the run
FALLBACK_WARNING = (
    "bubblewrap (bwrap) is not available or does not work here, so student notebooks run "
    "WITHOUT isolation: they can use the network, read any file the grader can (solutions, other "
    "submissions) and write to the host's disk, as the grader's user. Time and memory limits still "
    "apply. To fix it install the Debian/Ubuntu package `bubblewrap` (apt-get install bubblewrap) "
    "and make sure unprivileged user namespaces are allowed, or run the grader as root."
)
ROOT_KERNEL_WARNING = (
    "bubblewrap cannot keep the capabilities the runner needs to drop to an unprivileged user, so "
    "student kernels run as root inside the sandbox (still with no network and only the allowlisted "
    "paths, read-only). Use a bubblewrap that supports --cap-add (0.5 or newer)."
)
gpu_devices = sandbox_mounts.gpu_devices


@dataclass
class Limits:
    wall_s: float = 300.0  # whole notebook, kernel start and restarts included
    cell_s: float = 60.0  # per cell; on timeout the kernel is interrupted and the next cell runs
    memory_bytes: int = 8 * 2**30  # RLIMIT_AS for every process the submission starts
    memory_total_bytes: int = 8 * 2**30  # all its processes and tmpfs files together (cgroup memory cap)
    output_chars: int = 20_000  # per cell; longer text outputs are cut with a note
    output_bytes: int = 2 * 2**20  # one rich output (an image/png, a text/html...); a larger one is dropped with a note
    cell_output_bytes: int = 8 * 2**20  # one cell's outputs together; later outputs of the cell are dropped
    notebook_output_bytes: int = 50 * 2**20  # all cells' outputs together; later outputs are dropped
    processes: int = 512  # tasks (processes and threads) in the submission's cgroup: stops fork bombs
    cpus: float | None = None  # CPU time cap in cores (cgroup quota); None: no cap
    disk_bytes: int = 2**30  # size cap of the working folder (a tmpfs: RAM-backed)


@dataclass
class RunResult:
    """What happened. Dict keys are 0-based indices into notebook['cells'];
    the human `message` counts cells from 1 ("cell #3"), as a reader would."""

    notebook: dict  # executed notebook, partial if it stopped early; outputs truncated
    status: str  # 'ok' | 'timeout' (wall limit, or a timed-out cell ignored the interrupt) | 'dead' | 'error'
    message: str  # one sentence (or two) for feedback
    cell_errors: dict = field(default_factory=dict)  # index -> 'ename: evalue' / 'timed out after 60 s'
    cell_seconds: dict = field(default_factory=dict)  # index -> seconds
    timed_out_cells: list = field(default_factory=list)  # indices of cells stopped by the cell time limit
    seconds: float = 0.0  # total wall time
    sandboxed: bool = True  # False when bwrap was unavailable and we fell back
    probes: dict = field(default_factory=dict)  # test id -> raw bytes of probe/<test id>.json, as the kernel wrote them
    crashed_cells: list = field(default_factory=list)  # cells that killed the kernel; the rest ran after a restart
    full_cells: dict = field(default_factory=dict)  # index -> capped folders ('working folder', '/tmp') it left full
    started_ahead: bool = False  # its kernel had run the course's opening cells before the notebook came
    notes: list = field(default_factory=list)  # a sentence per size cap the run reached (outputs, memory)


# --------------------------------------------------------------------------- bwrap


def _bwrap_works(exe: str, extra: Sequence[str] = (), pass_fds: Sequence[int] = ()) -> bool:
    try:
        probe = subprocess.run(
            [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
             "--new-session", "--cap-drop", "ALL", *extra, "true"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
            pass_fds=tuple(pass_fds))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("bwrap self-test could not run: %s", exc)
        return False
    if probe.returncode != 0:
        log.warning("bwrap self-test failed: %s", probe.stderr.decode(errors="replace").strip())
    return probe.returncode == 0


@functools.lru_cache(maxsize=None)
def _bwrap_path() -> str | None:
    """The bwrap binary, if it exists *and* can actually build our sandbox here
    (it can be installed yet refused by the kernel's user-namespace policy)."""
    exe = shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap") if os.access(p, os.X_OK)), None)
    return exe if exe is not None and _bwrap_works(exe) else None


def _bwrap() -> str:
    """The bwrap binary, where bwrap_available() has said that there is one."""
    exe = _bwrap_path()
    assert exe is not None, "called only once bwrap_available() is true"
    return exe


@functools.lru_cache(maxsize=None)
def _drops_user() -> bool:
    """True when the runner will become a uid of its own (kernel_users.lease): the grader is root and
    bwrap keeps the caps for it."""
    if os.geteuid() != 0:
        return False  # the kernel runs as the grader's own (unprivileged) user
    caps = [arg for cap in sandbox_mounts.KERNEL_CAPS for arg in ("--cap-add", cap)]
    if _bwrap_works(_bwrap(), caps):
        return True
    log.warning(ROOT_KERNEL_WARNING)
    return False


@functools.lru_cache(maxsize=None)
def _log_fallback_once() -> None:
    log.warning(FALLBACK_WARNING)


def bwrap_available() -> bool:
    """True when notebooks will run isolated (checked once per process)."""
    return _bwrap_path() is not None


def kernel_uid() -> int:
    """The uid student kernels run as (for `autograde doctor`): when the grader is root and the sandbox
    can drop privileges, the first of the block each kernel leases one of its own from
    (kernel_users.FIRST), else the grader's own."""
    return kernel_users.FIRST if bwrap_available() and _drops_user() else os.geteuid()


@functools.lru_cache(maxsize=None)
def _syscall_filter() -> bytes | None:
    """The seccomp program kernels run under (seccomp.py), if libseccomp is here and bwrap loads it;
    else None, warned once, loudly."""
    bpf = seccomp.program()
    if bpf is None:
        return None  # seccomp.program() said why
    fd = seccomp.program_fd(bpf)
    try:
        works = _bwrap_works(_bwrap(), ["--seccomp", str(fd)], pass_fds=(fd,))
    finally:
        os.close(fd)
    if not works:
        log.warning("bubblewrap refused the syscall filter, so student kernels run WITHOUT it: they can use "
                    "the host's keyrings and create namespaces (seccomp.py says what else it blocks)")
        return None
    return bpf


def syscall_filter_in_force() -> bool:
    """True when kernels run under the seccomp filter (for `autograde doctor`)."""
    return bwrap_available() and _syscall_filter() is not None


def _needed() -> list[Path]:
    """What every kernel needs whatever the caller exposes: the interpreter, the venv, the runner."""
    return sorted({INSIDE, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
                   Path(sys.base_exec_prefix), Path(sys.executable).resolve().parent})


# --------------------------------------------------------------------------- processes


def _launch(command: list[str], memory_bytes: int, cgroup: SubmissionCgroup | None) -> list[str]:
    """The command behind launch.py, which sets the limits and joins the cgroups before exec."""
    options = ["--parent", str(os.getpid()), "--memory", str(int(memory_bytes or 0))]  # dies with this process
    for d in cgroup.dirs if cgroup is not None else []:
        options += ["--cgroup", str(d)]
    return [os.path.abspath(sys.executable), "-I", "-S", str(LAUNCH), *options, "--", *command]


def _kernel_env(workdir: Path, tmp: str, run_id: str, extra: dict | None) -> dict:
    """A clean environment built from scratch: nothing of the grader's leaks in."""
    env = {
        "PATH": f"{Path(os.path.abspath(sys.executable)).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "TMPDIR": tmp,
        "JUPYTER_RUNTIME_DIR": f"{tmp}/jupyter-runtime",
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": f"{tmp}/ipython",
        "MPLCONFIGDIR": f"{tmp}/matplotlib",
        "MPLBACKEND": "Agg",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NBGRADER_EXECUTION": "autograde",
        "AUTOGRADE_PROBE_DIR": str(workdir / "probe"),
    }
    env.update({str(k): str(v) for k, v in (extra or {}).items()})
    env["AUTOGRADE_RUN_ID"] = run_id  # how leftovers are found; the caller cannot override it
    return env


# --------------------------------------------------------------------------- entry point


def run_notebook(nb: dict, workdir: Path, *, limits: Limits = Limits(), env: dict | None = None,  # noqa: B008 - only read
                 hide: Sequence[Path] = (), expose: Sequence[Path] = (),
                 started: KernelProcess | None = None, on_handed_over=None) -> RunResult:
    """Execute `nb` with cwd/HOME `workdir`; always returns a RunResult, never raises
    for anything the submission does.

    `expose`: host paths the kernel may read (besides the system and Python); `hide`: folders
    inside exposed ones that must look empty. Sandboxed, `workdir` is a fresh private tmpfs at
    that path, and nothing the kernel writes there reaches the host. `started`: a kernel from
    start_kernel, used if it was started the way this run would start one and its opening cells
    are how `nb` begins (else it is closed and a fresh one started). `on_handed_over()` runs once the
    kernel has the notebook (the grader starts the next kernel then)."""
    start = time.monotonic()
    sandboxed = bwrap_available()
    try:
        if started is not None and not fits(started, nb, limits, env, hide, expose):
            started.close()
            started = None
        kernel = started or start_kernel(Path(workdir), limits=limits, env=env, hide=hide, expose=expose)
        hand_over(kernel, nb)
        if on_handed_over is not None:
            on_handed_over()
        return finish(kernel, nb, limits, start)
    except Exception as exc:
        log.exception("running a notebook failed")
        return RunResult(notebook=nb, status="error",
                         message=f"The grader could not run the notebook: {type(exc).__name__}: {exc}",
                         seconds=round(time.monotonic() - start, 3), sandboxed=sandboxed)


def start_kernel(workdir: Path | None, *, limits: Limits = Limits(), env: dict | None = None,  # noqa: B008 - only read
                 hide: Sequence[Path] = (), expose: Sequence[Path] = (), opening: dict | None = None) -> KernelProcess:
    """Start the sandbox, the runner and (as it starts) the kernel. With `opening` (a notebook of
    the course's opening cells) the kernel runs those before any notebook is handed over; workdir
    None: a folder of its own, removed with it."""
    sandbox_sweep.sweep_once()
    sandboxed = bwrap_available()
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix=sandbox_sweep.workdir_prefix()) if workdir is None else workdir).resolve()
    run_id = sandbox_sweep.new_run_id()  # names this grader run: see sandbox_sweep
    user = kernel_users.lease() if sandboxed and _drops_user() else None  # given back by kernel.close()
    bpf = _syscall_filter() if sandboxed else None
    filter_fd = None if bpf is None else seccomp.program_fd(bpf)  # bwrap reads it; closed here once started
    command, tmp = _command(workdir, limits, hide, expose, sandboxed, user, filter_fd)
    if opening is not None:
        command.append("--opening")
    full_env = env
    cgroup = SubmissionCgroup.create(limits.processes, limits.cpus, limits.memory_total_bytes,
                                     prefix=sandbox_sweep.workdir_prefix())
    proc = subprocess.Popen(
        _launch(command, limits.memory_bytes, cgroup), cwd="/" if sandboxed else workdir,
        env=_kernel_env(workdir, tmp, run_id, full_env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True, pass_fds=() if filter_fd is None else (filter_fd,))
    if filter_fd is not None:
        os.close(filter_fd)
    kernel = KernelProcess(proc, run_id, cgroup, workdir, _started_as(limits, env, hide, expose, sandboxed),
                           None if opening is None else list(opening["cells"]), owns_workdir=owns, user=user)
    kernel.report.oom_kills = cgroup.oom_kills if cgroup is not None else None  # which cells met the memory cap
    kernel.spawn_readers()
    if opening is not None:
        kernel.feed(json.dumps(opening).encode() + b"\n", close=False)
    return kernel


def _started_as(limits, env, hide, expose, sandboxed) -> tuple:
    return (repr(limits), tuple(sorted((env or {}).items())), tuple(map(str, hide)), tuple(map(str, expose)), sandboxed)


def fits(kernel: KernelProcess, nb: dict, limits: Limits, env, hide, expose) -> bool:
    """Whether `kernel` may run `nb`: alive, started as this run would start one, and its opening
    cells (if any) exactly how `nb` begins."""
    return kernel.fits(nb, _started_as(limits, env, hide, expose, bwrap_available()))


def hand_over(kernel: KernelProcess, nb: dict) -> None:
    kernel.handed_at = time.monotonic()
    kernel.feed(json.dumps(nb).encode() + (b"\n" if kernel.opening is not None else b""), close=True)


def finish(kernel: KernelProcess, nb: dict, limits: Limits, start: float) -> RunResult:
    """Wait for the run (wall limit from the hand-over), clean up, and say what happened."""
    wall_hit = kernel.wait(limits.wall_s)
    log_tail = kernel.tail.decode(errors="replace")
    report = kernel.report
    status, message, errors, seconds = summarize(
        report, nb, wall_hit=wall_hit, wall_s=limits.wall_s, cell_s=limits.cell_s,
        memory_bytes=limits.memory_bytes, log_tail=log_tail, memory_total_bytes=limits.memory_total_bytes)
    if status == "error":
        log.warning("runner failed (exit %s): %s", kernel.proc.returncode, log_tail[-2000:])
    notes = cap_notes(report, nb, output_bytes=limits.output_bytes, cell_output_bytes=limits.cell_output_bytes,
                      notebook_output_bytes=limits.notebook_output_bytes, memory_total_bytes=limits.memory_total_bytes)
    if status != "ok":  # an ok run's message is not shown to the student (grade.py): its notes are
        message = " ".join([message, *(n for n in notes if n not in message)])
    return RunResult(notebook=executed_notebook(nb, report, limits.notebook_output_bytes), status=status,
                     message=message,
                     cell_errors=errors, cell_seconds=seconds, timed_out_cells=sorted(report.timed_out),
                     seconds=round(time.monotonic() - start, 3), sandboxed=kernel.started_as[-1],
                     probes=dict(report.probes), crashed_cells=list(report.crashed), full_cells=dict(report.full),
                     started_ahead=kernel.opening is not None, notes=notes)


def _command(workdir: Path, limits: Limits, hide, expose, sandboxed: bool, user: kernel_users.Lease | None = None,
             filter_fd: int | None = None) -> tuple[list[str], str]:
    """(command line, the kernel's TMPDIR). `user`: the uid the runner drops to (None: it stays who it
    is); `filter_fd`: the seccomp program bwrap loads."""
    runner = [os.path.abspath(sys.executable), str(RUNNER), "--workdir", str(workdir),
              "--cell-timeout", repr(float(limits.cell_s)), "--output-chars", str(int(limits.output_chars)),
              "--output-bytes", str(int(limits.output_bytes)),
              "--cell-output-bytes", str(int(limits.cell_output_bytes)),
              "--notebook-output-bytes", str(int(limits.notebook_output_bytes)),
              "--interrupt-grace", str(int(INTERRUPT_GRACE_S))]
    if not sandboxed:
        warnings.warn(FALLBACK_WARNING, RuntimeWarning, stacklevel=4)
        _log_fallback_once()
        (workdir / ".tmp").mkdir(parents=True, exist_ok=True)
        return runner, str(workdir / ".tmp")
    drop = user is not None
    prefix = sandbox_mounts.bwrap_args(_bwrap(), workdir, expose=[*expose, *_needed()], hide=hide,
                                       workdir_bytes=int(limits.disk_bytes), scratch_bytes=SCRATCH_BYTES,
                                       drop_user=drop, seccomp_fd=filter_fd)
    runner.append("--disk-check")
    if user is not None:  # drop
        runner += ["--user", user.user]
    return prefix + runner, "/tmp"
