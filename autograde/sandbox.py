"""Run one untrusted student notebook in bounded time and isolation.

The whole execution (nbclient *and* the kernel, see `kernel_runner`) runs inside
bubblewrap: the host file system is read-only, only the submission's `workdir`
(plus a private /tmp) is writable, `hide` directories are replaced by empty
read-only tmpfs mounts, and there is no network, no view of host processes and
no way to outlive the run (pid namespace + --die-with-parent). Memory is bounded
by RLIMIT_AS, time by a per-cell timeout (interrupt, go on) and a wall limit
(SIGKILL everything).

Nothing here decides a grade: the caller reads the probe files the notebook's
hidden test cells wrote into `workdir/probe`, and uses the RunResult to explain
what happened.

Without bwrap the same runner is used with rlimits, a new session and a private
cwd/HOME, but *without* isolation; that is loudly warned about and reported as
`RunResult.sandboxed = False`.
"""
from __future__ import annotations

import functools
import glob
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import nbformat

from autograde import kernel_runner
from autograde.cgroups import SubmissionCgroup

log = logging.getLogger(__name__)

RUNNER = Path(kernel_runner.__file__).resolve()
SCRATCH_BYTES = 2 * 2**30  # size cap of the private /tmp and /dev/shm (RAM-backed, not under RLIMIT_AS)
INTERRUPT_GRACE_S = 10  # a timed-out cell that has not stopped this long after the interrupt ends the run
LOG_TAIL_BYTES = 8192  # how much of the runner's own stdout/stderr is kept for error messages
FALLBACK_WARNING = (
    "bubblewrap (bwrap) is not available or does not work here, so student notebooks run "
    "WITHOUT isolation: they can use the network and read hidden paths (solutions, other "
    "submissions). Time and memory limits still apply. To fix it install the Debian/Ubuntu "
    "package `bubblewrap` (apt-get install bubblewrap) and make sure unprivileged user "
    "namespaces are allowed, or run the grader as root."
)


@dataclass
class Limits:
    wall_s: float = 300.0  # whole notebook, kernel start included
    cell_s: float = 60.0  # per cell; on timeout the kernel is interrupted and the next cell runs
    memory_bytes: int = 8 * 2**30  # RLIMIT_AS for every process the submission starts
    output_chars: int = 20_000  # per cell; longer text outputs are cut with a note
    processes: int = 512  # tasks (processes and threads) in the submission's cgroup: stops fork bombs
    cpus: float | None = None  # CPU time cap in cores (cgroup quota); None: no cap


@dataclass
class RunResult:
    """What happened. Dict keys are 0-based indices into notebook['cells'];
    the human `message` counts cells from 1 ("cell #3"), as a reader would."""

    notebook: dict  # executed notebook, partial if it stopped early; outputs truncated
    status: str  # 'ok' | 'timeout' (wall limit, or a timed-out cell ignored the interrupt) | 'dead' | 'error'
    message: str  # one sentence for feedback
    cell_errors: dict = field(default_factory=dict)  # index -> 'ename: evalue' / 'timed out after 60 s'
    cell_seconds: dict = field(default_factory=dict)  # index -> seconds
    timed_out_cells: list = field(default_factory=list)  # indices of cells stopped by the cell time limit
    seconds: float = 0.0  # total wall time
    sandboxed: bool = True  # False when bwrap was unavailable and we fell back


# --------------------------------------------------------------------------- bwrap


@functools.lru_cache(maxsize=None)
def _bwrap_path() -> str | None:
    """The bwrap binary, if it exists *and* can actually build our sandbox here
    (it can be installed yet refused by the kernel's user-namespace policy)."""
    exe = shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap") if os.access(p, os.X_OK)), None)
    if exe is None:
        return None
    try:
        probe = subprocess.run(
            [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
             "--new-session", "--cap-drop", "ALL", "true"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("bwrap self-test could not run: %s", exc)
        return None
    if probe.returncode != 0:
        log.warning("bwrap self-test failed: %s", probe.stderr.decode(errors="replace").strip())
        return None
    return exe


@functools.lru_cache(maxsize=None)
def _log_fallback_once() -> None:
    log.warning(FALLBACK_WARNING)


def bwrap_available() -> bool:
    """True when notebooks will run isolated (checked once per process)."""
    return _bwrap_path() is not None


def gpu_devices() -> list[str]:
    """NVIDIA device nodes of this machine (none on a CPU machine)."""
    return sorted(glob.glob("/dev/nvidia*"))


def _bwrap_args(exe: str, workdir: Path, rundir: Path, hide: Sequence[Path],
                expose: Sequence[Path]) -> list[str]:
    """The bwrap command line (without the command to run).

    Mounts are applied shallowest path first so the most specific rule wins:
    a path exposed inside a hidden directory shows through, a directory hidden
    inside an exposed one stays hidden, and workdir is writable wherever it lives."""
    mounts: list[tuple[int, int, list[str]]] = [  # (depth, rank, args)
        (1, 0, ["--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]),
        (2, 0, ["--size", str(SCRATCH_BYTES), "--tmpfs", "/dev/shm"]),
    ]
    hidden_dirs = []
    for path in hide:
        path = Path(path).resolve()
        if path.is_dir():
            mounts.append((len(path.parts), 0, ["--size", str(2**20), "--tmpfs", str(path)]))
            hidden_dirs.append(path)
        elif path.exists():  # a single file: show an empty one instead
            mounts.append((len(path.parts), 0, ["--ro-bind", "/dev/null", str(path)]))
    for path in expose:
        path = Path(path).resolve()
        if path.exists():
            mounts.append((len(path.parts), 1, ["--ro-bind", str(path), str(path)]))
    for path in (workdir, rundir):
        mounts.append((len(path.parts), 2, ["--bind", str(path), str(path)]))
    mounts.sort(key=lambda m: (m[0], m[1]))
    args = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for _, _, mount in mounts:
        args += mount
    for device in gpu_devices():  # the fresh /dev has no GPU nodes: bind them so kernels can train on it
        args += ["--dev-bind", device, device]
    for path in hidden_dirs:  # read-only, so they cannot be used as scratch space either
        args += ["--remount-ro", str(path)]
    return args + ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
                   "--new-session", "--cap-drop", "ALL", "--chdir", str(workdir)]


# --------------------------------------------------------------------------- processes


def _child_setup(memory_bytes: int, cgroup: SubmissionCgroup | None) -> None:  # between fork and exec
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cgroup is not None:
        cgroup.enter()


def _drain(pipe, keep: bytearray) -> None:
    """Read the runner's stdout/stderr to the end, keeping only the tail (bounded memory)."""
    for chunk in iter(lambda: pipe.read1(65536), b""):
        keep += chunk
        del keep[:-LOG_TAIL_BYTES]
    pipe.close()


def _pids_with_marker(marker: bytes) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(int(entry.name))
        except OSError:  # gone, or not ours
            pass
    return found


def _kill_leftovers(run_id: str, patience_s: float = 3.0) -> int:
    """SIGKILL every process still carrying this run's AUTOGRADE_RUN_ID.

    Inside bwrap the pid namespace already takes everything down with the runner;
    this is the safety net, and the only net in fallback mode (where a process
    started with a new session escapes the process-group kill)."""
    marker = f"AUTOGRADE_RUN_ID={run_id}".encode()
    deadline, killed = time.monotonic() + patience_s, 0
    while pids := _pids_with_marker(marker):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        if time.monotonic() > deadline:
            log.error("processes %s of run %s would not die", pids, run_id)
            break
        time.sleep(0.05)
    return killed


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


# --------------------------------------------------------------------------- results


def _cell_label(nb: dict, index: int | None) -> str:
    if index is None or not 0 <= index < len(nb.get("cells", [])):
        return "a cell"
    source = nb["cells"][index].get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    if len(line) > 60:
        line = line[:57] + "..."
    return f"cell #{index + 1} (`{line}`)" if line else f"cell #{index + 1}"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_notebook(path: Path, fallback: dict) -> dict:
    try:
        return nbformat.read(path, as_version=4)
    except Exception:  # missing or unreadable: the run never got that far
        return nbformat.from_dict(json.loads(json.dumps(fallback)))


def _summarize(state: dict | None, nb: dict, timed_out: bool, limits: Limits,
               log_tail: str) -> tuple[str, str, dict, dict]:
    """(status, message, cell_errors, cell_seconds) from the runner's status file."""
    state = state or {}
    errors = {int(k): v for k, v in (state.get("cell_errors") or {}).items()}
    seconds = {int(k): v for k, v in (state.get("cell_seconds") or {}).items()}
    final = state.get("status")
    running = state.get("running")
    after = "; cells after it did not run."
    if running is not None and final == "running":  # stopped from outside, mid-cell
        if state.get("running_since"):
            seconds[running] = round(time.time() - state["running_since"], 3)
    if timed_out and final in (None, "running"):
        if running is None:
            return "timeout", (f"The notebook was stopped at the {limits.wall_s:g} s time limit "
                               "before any cell ran."), errors, seconds
        errors[running] = f"stopped by the {limits.wall_s:g} s time limit"
        return "timeout", (f"The notebook was stopped at the {limits.wall_s:g} s time limit while "
                           f"running {_cell_label(nb, running)}{after}"), errors, seconds
    if final == "stuck":
        label = _cell_label(nb, state.get("died_at"))
        return "timeout", (f"{label[0].upper()}{label[1:]} ran past the "
                           f"{limits.cell_s:g} s cell time limit and did not stop when interrupted"
                           f"{after}"), errors, seconds
    if final == "dead" or (final == "running" and running is not None):
        where = state["died_at"] if state.get("died_at") is not None else running
        if where is not None:
            errors[where] = "the kernel died"
        gib = limits.memory_bytes / 2**30
        return "dead", (f"The kernel died while running {_cell_label(nb, where)} (a crash, an "
                        f"exit, or running out of memory: the limit is {gib:g} GiB){after}"), errors, seconds
    if final == "ok":
        if not errors:
            return "ok", f"All {len(seconds)} code cells ran without errors.", errors, seconds
        first = min(errors)
        return "ok", (f"The notebook ran to the end; {len(errors)} cell(s) had errors, the first "
                      f"in {_cell_label(nb, first)}: {errors[first]}"), errors, seconds
    reason = state.get("error") or (log_tail.strip().splitlines() or ["no output"])[-1]
    return "error", f"The grader could not run the notebook: {reason}", errors, seconds


# --------------------------------------------------------------------------- entry point


def run_notebook(nb: dict, workdir: Path, *, limits: Limits = Limits(), env: dict | None = None,
                 hide: Sequence[Path] = (), expose: Sequence[Path] = ()) -> RunResult:
    """Execute `nb` with cwd/HOME `workdir`; always returns a RunResult, never raises
    for anything the submission does."""
    start = time.monotonic()
    sandboxed = bwrap_available()
    try:
        return _run(nb, Path(workdir).resolve(), limits, env, hide, expose, sandboxed, start)
    except Exception as exc:
        log.exception("running a notebook failed")
        return RunResult(notebook=nb, status="error",
                         message=f"The grader could not run the notebook: {type(exc).__name__}: {exc}",
                         seconds=round(time.monotonic() - start, 3), sandboxed=sandboxed)


def _run(nb, workdir, limits, env, hide, expose, sandboxed, start) -> RunResult:
    (workdir / "probe").mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex
    rundir = Path(tempfile.mkdtemp(prefix="autograde-run-")).resolve()
    try:
        in_nb, out_nb = rundir / "in.ipynb", rundir / "out.ipynb"
        nbformat.write(nbformat.from_dict(nb), in_nb)
        if sandboxed:
            # The interpreter and the runner must stay reachable whatever is hidden.
            needed = {RUNNER, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
            prefix = _bwrap_args(_bwrap_path(), workdir, rundir, hide, [*expose, *sorted(needed)])
            tmp = "/tmp"
        else:
            warnings.warn(FALLBACK_WARNING, RuntimeWarning, stacklevel=3)
            _log_fallback_once()
            prefix, tmp = [], str(rundir / "tmp")
            (rundir / "tmp").mkdir()
        command = prefix + [os.path.abspath(sys.executable), str(RUNNER), str(in_nb), str(out_nb),
                            "--cell-timeout", repr(float(limits.cell_s)),
                            "--output-chars", str(int(limits.output_chars)),
                            "--interrupt-grace", str(int(INTERRUPT_GRACE_S))]
        cgroup = SubmissionCgroup.create(limits.processes, limits.cpus)
        proc = subprocess.Popen(
            command, cwd=workdir, env=_kernel_env(workdir, tmp, run_id, env),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=functools.partial(_child_setup, limits.memory_bytes, cgroup))
        tail = bytearray()
        drainer = threading.Thread(target=_drain, args=(proc.stdout, tail), daemon=True)
        drainer.start()
        timed_out = False
        try:
            proc.wait(timeout=max(0.0, limits.wall_s - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            _kill_leftovers(run_id)
            if cgroup is not None:
                cgroup.close()
            drainer.join(timeout=5)
        log_tail = tail.decode(errors="replace")
        state = _read_json(kernel_runner.status_path(out_nb))
        status, message, errors, seconds = _summarize(state, nb, timed_out, limits, log_tail)
        if status == "error":
            log.warning("runner failed (exit %s): %s", proc.returncode, log_tail[-2000:])
        return RunResult(notebook=_read_notebook(out_nb, nb), status=status, message=message,
                         cell_errors=errors, cell_seconds=seconds,
                         timed_out_cells=sorted((state or {}).get("timed_out_cells") or []),
                         seconds=round(time.monotonic() - start, 3), sandboxed=sandboxed)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
