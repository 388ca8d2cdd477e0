"""Execute one notebook with nbclient; meant to run *inside* the sandbox.

    python kernel_runner.py IN.ipynb OUT.ipynb --cell-timeout S --output-chars N

The runner is the only thing between an untrusted kernel and the grader, so it
is small, imports nothing from the course, and leaves evidence behind at every
step: OUT.ipynb and a JSON status file beside it (see `status_path`) are
rewritten after every cell, atomically, so that a run killed from outside
(wall-clock limit) still leaves the partial notebook and per-cell timings.

The status file holds: status ('running' | 'ok' | 'dead' | 'stuck' | 'error'),
running (index of the cell being executed, or null), running_since (epoch
seconds), died_at (the cell where the kernel died or got stuck), error (text
when status is 'error'), cell_errors and cell_seconds (cell index as a string
-> text / seconds). 'stuck' means a cell ran past its timeout and ignored the
interrupt, so the run stopped there instead of queueing cells behind it.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__" and sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    # Started as a script: the sibling modules of this file must not shadow real packages.
    del sys.path[0]

# jsonschema (under nbformat) imports rfc3987_syntax when installed, which compiles a grammar
# for 1.4 s; nbformat never checks IRI formats, and that is paid on every notebook. Skip it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import argparse
import atexit
import json
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

TIMEOUT_ENAME = "CellTimeoutError"
SAVE_EVERY_S = 2.0  # how often a long-running cell's partial outputs are flushed to OUT


class StuckKernel(Exception):
    """A timed-out cell ignored the interrupt; every later cell would just queue behind it."""


def status_path(out_path: Path | str) -> Path:
    """Where the runner writes its JSON status for a given OUT notebook."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".status.json")


def _atomic_write(path: Path, text: str) -> None:
    """Write via rename so a reader (or a SIGKILL) never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _ThisPythonOnly(KernelSpecManager):
    """Whatever kernel the notebook asks for, run ipykernel on this interpreter.

    Student notebooks carry arbitrary kernelspec names ('python3', 'conda-env-x', ...);
    the grade must not depend on which kernelspecs happen to be installed."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3",
            language="python",
            name="python3",
        )


class _KernelManager(AsyncKernelManager):
    def _kernel_spec_manager_default(self) -> KernelSpecManager:  # traitlets default
        return _ThisPythonOnly()


class _Client(NotebookClient):
    """NotebookClient that clips text outputs as they arrive and records what happened."""

    def __init__(self, nb, *, cell_timeout: float, output_chars: int, out_path: Path, run_state: dict,
                 **kw):
        super().__init__(nb, **kw)
        self.cell_timeout = cell_timeout
        self.output_chars = output_chars
        self.out_path = out_path
        self.run_state = run_state
        self.on_cell_error = self._on_cell_error
        self._used: dict[int, int] = {}  # cell index -> text characters kept so far
        self._clipped: set[int] = set()  # cells whose truncation note is already shown
        self._timed_out: set[int] = set()
        self._idle: set[int] = set()  # cells whose execution the kernel reported finished
        self._last_save = time.monotonic()

    # ---- saving -------------------------------------------------------
    def save(self) -> None:
        # Plain JSON: nbformat.writes validates on every call (~25 ms for a 100-cell lesson).
        _atomic_write(self.out_path, json.dumps(self.nb))
        self.save_status()
        self._last_save = time.monotonic()

    def save_status(self) -> None:
        _atomic_write(status_path(self.out_path), json.dumps(self.run_state))

    # ---- per cell ---------------------------------------------------------
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        runs = cell.cell_type == "code" and cell.source.strip() and (
            self.skip_cells_with_tag not in cell.metadata.get("tags", [])
        )
        if not runs:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self.run_state.update(running=cell_index, running_since=time.time())
        self.save_status()
        start = time.monotonic()
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            if cell_index in self._timed_out and cell_index not in self._idle:
                raise StuckKernel(cell_index)
            return cell
        finally:
            key = str(cell_index)
            self.run_state["cell_seconds"][key] = round(time.monotonic() - start, 3)
            error = self._error_text(cell, cell_index)
            if error:
                self.run_state["cell_errors"][key] = error
            if cell_index in self._timed_out:
                self.run_state["timed_out_cells"].append(cell_index)
            self.save()

    def _on_cell_error(self, cell, cell_index, execute_reply) -> None:
        """Our synthetic timeout reply has no visible output; give the cell one."""
        content = (execute_reply or {}).get("content", {})
        if content.get("autograde_timeout"):
            self._timed_out.add(cell_index)
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename=TIMEOUT_ENAME, evalue=content.get("evalue", ""), traceback=[
                    f"{TIMEOUT_ENAME}: {content.get('evalue', '')}"]))

    def _error_text(self, cell, cell_index) -> str | None:
        if cell_index in self._timed_out:
            stuck = "" if cell_index in self._idle else " and did not stop when interrupted"
            return f"timed out after {self.cell_timeout:g} s{stuck}"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            return None
        ename, evalue = errors[-1].get("ename", "Error"), str(errors[-1].get("evalue", ""))
        if len(evalue) > 300:
            evalue = evalue[:300] + "..."
        return f"{ename}: {evalue}" if evalue else ename

    # ---- outputs ------------------------------------------------------------
    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") == "status" and msg["content"].get("execution_state") == "idle":
            self._idle.add(cell_index)
        return super().process_message(msg, cell, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        """Clip text before it is stored, so a print loop cannot grow memory or OUT."""
        keep, cut = self._clip(msg, cell_index)
        out = super().output(outs, msg, display_id, cell_index) if keep else None
        if cut and cell_index not in self._clipped:
            self._clipped.add(cell_index)
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=(
                f"\n[autograde: output truncated - this cell printed more than "
                f"{self.output_chars:,} characters; the rest was dropped]\n")))
        if time.monotonic() - self._last_save > SAVE_EVERY_S:
            self.save()
        return out

    def _clip(self, msg, cell_index) -> tuple[bool, bool]:
        """Shorten the text in `msg` in place. Returns (keep the message, text was cut)."""
        content, kind = msg.get("content", {}), msg.get("msg_type")
        room = self.output_chars - self._used.get(cell_index, 0)
        if kind == "stream":
            text = content.get("text", "")
            if room <= 0:
                return False, bool(text)
            content["text"] = text[:room]
            self._used[cell_index] = self._used.get(cell_index, 0) + len(content["text"])
            return True, len(text) > room
        if kind in ("execute_result", "display_data"):
            data, cut, longest = content.get("data", {}), False, 0
            for mime, value in data.items():
                if isinstance(value, str) and not mime.startswith("image/"):
                    if len(value) > max(room, 0):
                        data[mime], cut = value[:max(room, 0)], True
                    longest = max(longest, len(data[mime]))
            self._used[cell_index] = self._used.get(cell_index, 0) + longest
            return True, cut
        if kind == "error":  # always kept; the end of a traceback is the useful part
            tb = content.get("traceback", [])
            if sum(len(line) for line in tb) > self.output_chars:
                kept, size = [tb[-1][-self.output_chars:]], len(tb[-1])
                for line in reversed(tb[:-1]):
                    size += len(line)
                    if size > self.output_chars:
                        break
                    kept.append(line)
                content["traceback"] = ["[autograde: traceback truncated]"] + kept[::-1]
            return True, False
        return True, False


def run(in_path: Path, out_path: Path, cell_timeout: float, output_chars: int,
        interrupt_grace: int = 10) -> str:
    """Execute IN into OUT; return the final status. Never raises for notebook problems.

    `interrupt_grace`: seconds a timed-out cell gets to stop after the interrupt."""
    state = {"status": "running", "running": None, "running_since": None, "died_at": None,
             "error": None, "cell_errors": {}, "cell_seconds": {}, "timed_out_cells": []}
    _atomic_write(status_path(out_path), json.dumps(state))
    client = None
    try:
        client = _Client(
            nbformat.read(in_path, as_version=4), cell_timeout=cell_timeout,
            output_chars=output_chars, out_path=out_path, run_state=state,
            timeout_func=lambda cell: cell_timeout, interrupt_on_timeout=True,
            error_on_timeout={"ename": TIMEOUT_ENAME, "autograde_timeout": True, "traceback": [],
                              "evalue": f"cell timed out after {cell_timeout:g} s and was interrupted"},
            iopub_timeout=interrupt_grace, allow_errors=True, record_timing=True,
            shutdown_kernel="immediate",
            kernel_manager_class=_KernelManager, resources={"metadata": {"path": os.getcwd()}},
        )
        client.execute()
        state["status"] = "ok"
    except DeadKernelError:
        state.update(status="dead", died_at=state["running"])
    except StuckKernel as exc:
        state.update(status="stuck", died_at=exc.args[0])
    except Exception as exc:  # unreadable notebook, kernel failed to start, nbclient failure
        where = "while starting the kernel" if state["running"] is None else f"at cell {state['running']}"
        state.update(status="error", error=f"{type(exc).__name__} {where}: {exc}"[:2000])
    finally:
        state["running"] = None
        if client is not None:
            atexit.unregister(client._cleanup_kernel)  # nbclient leaves it behind on some failures
            client.save()
        else:
            _atomic_write(status_path(out_path), json.dumps(state))
    return state["status"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--cell-timeout", type=float, default=60.0)
    ap.add_argument("--output-chars", type=int, default=20_000)
    ap.add_argument("--interrupt-grace", type=int, default=10)
    args = ap.parse_args(argv)
    status = run(args.input, args.output, args.cell_timeout, args.output_chars, args.interrupt_grace)
    return 0 if status in ("ok", "dead") else 1


if __name__ == "__main__":
    sys.exit(main())
