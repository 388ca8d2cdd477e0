"""Shared helpers for the benchmark scripts: the machine, the environment, timing, markdown tables.

Importing this module is cheap (standard library only); torch is imported only by the functions
that describe it, so scripts that time process start-up are not slowed down by it.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
OUT = REPO / "out"


# ---------------------------------------------------------------------------------------------
# The environment every benchmark runs in


def bench_env(extra: dict | None = None, drop=()) -> dict:
    """os.environ with the venv's bin/ first on PATH (nbgrader shells out to alembic) and the
    Hugging Face hub switched off (nothing here may wait on an unreachable network)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HF_DATASETS_OFFLINE"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    for k in drop:
        env.pop(k, None)
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def set_offline() -> None:
    """For in-process work: the same offline switches as bench_env()."""
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


# ---------------------------------------------------------------------------------------------
# The machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def device_description() -> str:
    """The device the lesson's code uses (miniai.conv.def_device), with the GPU's name when there is one."""
    import torch
    from miniai.conv import def_device
    if def_device == "cuda":
        return f"cuda ({torch.cuda.get_device_name()})"
    return str(def_device)


def gpu_note() -> str:
    import torch
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} CUDA device(s): {torch.cuda.get_device_name()}"
    return "no GPU available in this session (torch.cuda.is_available() is False): everything ran on the CPU"


def machine() -> dict:
    import torch
    mem = memory_gib()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "memory": f"{mem:.0f} GiB" if mem else "?",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device_description(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?",
    }


def machine_line() -> str:
    m = machine()
    return (f"{m['cores']} cores ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, torch {m['torch']} "
            f"({m['torch_threads']} intra-op threads), device {m['device']}; load average {m['load']}")


def now() -> str:
    return datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z")


# ---------------------------------------------------------------------------------------------
# Timing


@contextmanager
def stopwatch():
    """with stopwatch() as t: ...  then t() is the elapsed wall time in seconds."""
    t0 = time.perf_counter()
    end = []
    yield lambda: (end[0] if end else time.perf_counter()) - t0
    end.append(time.perf_counter())


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def timed_run(cmd, *, env=None, cwd=REPO, timeout=None, quiet=True, log=None) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command; (wall seconds, the completed process with stdout/stderr as text)."""
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], env=env or bench_env(), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if log is not None:
        Path(log).write_text(f"$ {' '.join(map(str, cmd))}\n--- rc {proc.returncode}, {wall:.1f} s\n"
                             f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    if not quiet:
        print(proc.stdout)
    return wall, proc


def tail(text: str, lines: int = 25) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# Output


def md_table(headers, rows, align=None) -> str:
    """A GitHub markdown table; align is a string of 'l'/'r' per column (default: text left, numbers right)."""
    rows = [[_cell(v) for v in r] for r in rows]
    if align is None:
        align = "".join("r" if rows and all(_numeric(r[i]) for r in rows if i < len(r)) else "l"
                        for i in range(len(headers)))
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _numeric(s: str) -> bool:
    s = s.replace(",", "").replace("x", "").replace("%", "").replace("–", "").strip()
    if not s:
        return True
    try:
        float(s)
        return True
    except ValueError:
        return False


def fmt_s(x: float, digits: int = 1) -> str:
    return "–" if x is None or x != x else f"{x:.{digits}f}"


def section(title: str, command: str, body: str) -> str:
    """A BENCHMARKS.md section: title, the command that reproduces it, the body."""
    return f"## {title}\n\nReproduce: `{command}`\n\n{body.strip()}\n"


def add_markdown_arg(parser) -> None:
    parser.add_argument("--markdown", metavar="FILE", help="also write the markdown section to FILE (run_all.py uses it)")


def emit(markdown: str, path: str | None) -> None:
    """Print the section (after a marker line) and write it where run_all.py asked."""
    print("\n" + "=" * 30 + " markdown " + "=" * 30 + "\n" + markdown)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(markdown)
