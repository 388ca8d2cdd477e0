"""Execute one notebook with nbclient; meant to run *inside* the sandbox.

    python kernel_runner.py --workdir W [--user UID:GID] [--disk-check] ... < notebook.json
    python kernel_runner.py --opening ...   (stdin: the opening cells, a line; later the notebook, a line)

The runner is the only thing between an untrusted kernel and the grader, so it is small and
imports nothing from the course. It writes nothing the grader reads into a folder the kernel
can write: everything goes to the parent as JSON lines on the runner's own stdout (see
`Events`), streamed as it happens so that a run killed from outside (wall-clock limit) still
leaves its evidence. The kernel gets neither that pipe (its stdout/stderr are /dev/null) nor
a way to open it through /proc (the runner is made non-dumpable, and runs as another user
than the kernel's files when started as root). Events:

    {"event": "cell_start", "cell": i}
    {"event": "cell", "cell": i, "data": CELL, "seconds": s, "error": TEXT|null, "timed_out": bool,
     "full": [folders the cell left full], "capped": [output caps its outputs reached: 'output',
     'cell', 'notebook'], "final": bool}  (final false: partial outputs of a long cell)
    {"event": "probe", "name": TEST_ID, "data": BASE64}   (a probe file the kernel wrote, read safely)
    {"event": "crash", "cell": i}     (the kernel died in cell i; the notebook runs again without it)
    {"event": "metadata", "data": NB_METADATA}
    {"event": "end", "status": "ok"|"stuck"|"error", "cell": i|null, "error": TEXT|null}

'stuck' means a cell ran past its timeout and ignored the interrupt, so the run stopped there
instead of queueing cells behind it. A kernel that dies in a cell costs only that cell: the
runner starts a fresh kernel and runs the notebook again without the cells that crashed.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__" and sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    # Started as a script: the sibling modules of this file must not shadow real packages.
    del sys.path[0]

# jsonschema (under nbformat) imports rfc3987_syntax when installed, which compiles a grammar (its cost:
# `python -X importtime -c "import rfc3987_syntax"`); nbformat never checks IRI formats, and that is paid
# on every notebook. Skip it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import argparse
import atexit
import importlib.util
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

def _sibling(name: str):
    """A module next to this file, loaded by path (never through sys.path: see above)."""
    spec = importlib.util.spec_from_file_location(f"_autograde_runner_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None  # a .py path always has a spec and a loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_channel = _sibling("runner_channel")
_identity = _sibling("runner_identity")
_opening = _sibling("runner_opening")
if TYPE_CHECKING:  # the same classes as mypy sees them; at run time they come by path, as above
    from autograde.running.inside.runner_channel import Capped, Events, OutputBudget, Probes
else:
    Events, Probes, Capped, OutputBudget = _channel.Events, _channel.Probes, _channel.Capped, _channel.OutputBudget

TIMEOUT_ENAME = "CellTimeoutError"
SAVE_EVERY_S = 2.0  # how often a long-running cell's partial outputs and new probe files are sent
OUTPUT_KINDS = ("stream", "display_data", "execute_result", "update_display_data", "error")
# The kernel starts as `python -m ipykernel_launcher` would, but first makes itself (and so every
# process it starts) the one the OOM killer picks when the submission reaches its memory cap: the
# runner, in the same cgroup, must survive to report it and restart the kernel.
KERNEL_START = ("import runpy\n"
                "try:\n    open('/proc/self/oom_score_adj', 'w').write('1000')\nexcept OSError:\n    pass\n"
                "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)")
CRASH_NOTE = ("\n[autograde: the kernel died in this cell; it was restarted and the notebook "
              "ran again without this cell]\n")


class StuckKernel(Exception):
    """A timed-out cell ignored the interrupt; every later cell would just queue behind it."""


class _ThisPythonOnly(KernelSpecManager):
    """Whatever kernel the notebook asks for, run ipykernel on this interpreter.

    Student notebooks carry arbitrary kernelspec names ('python3', 'conda-env-x', ...);
    the grade must not depend on which kernelspecs happen to be installed."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-c", KERNEL_START, "-f", "{connection_file}"],
            display_name="Python 3",
            language="python",
            name="python3",
        )


class _KernelManager(AsyncKernelManager):
    def _kernel_spec_manager_default(self) -> KernelSpecManager:  # traitlets default
        return _ThisPythonOnly()


class _Client(NotebookClient):
    """NotebookClient that clips outputs as they arrive (text per cell in characters, each rich
    output, each cell and the whole notebook in bytes), skips the cells that crashed an earlier
    kernel, and reports every cell to the parent."""

    def __init__(self, nb, *, cell_timeout: float, output_chars: int, events: Events, probes: Probes,
                 skip: set, capped: Capped, budget: OutputBudget, output_bytes: int, **kw):
        super().__init__(nb, **kw)
        self.cell_timeout = cell_timeout
        self.output_chars, self.output_bytes, self.budget = output_chars, output_bytes, budget
        self.events, self.probes, self.skip, self.capped = events, probes, skip, capped
        self._clip_of: dict[int, tuple[bool, bool]] = {}  # id(msg) -> (keep it, its text was cut)
        self._noted: set[tuple[int, str]] = set()  # (cell, cap) whose note is already shown
        self._caps: dict[int, set] = {}  # cell -> the caps its outputs reached: 'output', 'cell', 'notebook'
        self.running: int | None = None
        self.on_cell_error = self._on_cell_error
        self._used: dict[int, int] = {}  # cell index -> text characters kept so far
        self._clipped: set[int] = set()  # cells whose truncation note is already shown
        self._timed_out: set[int] = set()
        self._idle: set[int] = set()  # cells whose execution the kernel reported finished
        self._last_save = time.monotonic()

    def send_cell(self, index: int, final: bool, seconds: float | None = None, error: str | None = None) -> None:
        cell = self.nb.cells[index]
        most = self.budget.cell_bytes + 2**20  # the budget keeps it under; this is the last guard
        if len(json.dumps(cell.get("outputs", []))) > most:
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=(
                f"[autograde: this cell's outputs were larger than {most / 2**20:.0f} MB and were dropped]\n"))]
        self.events.send(event="cell", cell=index, data=cell, seconds=seconds, error=error,
                         timed_out=index in self._timed_out, final=final,
                         capped=sorted(self._caps.get(index, ())) if final else [],
                         full=self.capped.newly_full() if final else [])
        self._last_save = time.monotonic()

    # ---- per cell ---------------------------------------------------------
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        runs = cell.cell_type == "code" and cell.source.strip() and (
            self.skip_cells_with_tag not in cell.metadata.get("tags", [])
        )
        if cell_index in self.skip:
            return cell  # crashed an earlier kernel: keeps that attempt's outputs and note
        if not runs:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self.running = cell_index
        self.budget.reset(cell_index)  # nbclient starts the cell with no outputs
        self._noted = {n for n in self._noted if n[0] != cell_index}
        self._caps.pop(cell_index, None)
        self.events.send(event="cell_start", cell=cell_index)
        start, died = time.monotonic(), False
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            if cell_index in self._timed_out and cell_index not in self._idle:
                raise StuckKernel(cell_index)
            self.running = None
            return cell
        except DeadKernelError:
            died = True
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=CRASH_NOTE))
            raise
        finally:
            error = "the kernel died" if died else self._error_text(cell, cell_index)
            self.send_cell(cell_index, True, round(time.monotonic() - start, 3), error)
            self.probes.scan()

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
        if msg.get("msg_type") in OUTPUT_KINDS:  # before nbclient stores it, display updates included
            self._clip_of = {id(msg): self._clip(msg, cell_index)}
        return super().process_message(msg, cell, cell_index)

    def _hooked(self, msg) -> bool:
        return bool(self.output_hook_stack[msg.get("parent_header", {}).get("msg_id")])

    def clear_output(self, outs, msg, cell_index):
        if not self._hooked(msg) and not msg["content"].get("wait"):
            self.budget.reset(cell_index)
        return super().clear_output(outs, msg, cell_index)

    def _update_display_id(self, display_id, msg):
        """A display update replaces outputs in place: it is counted as the bytes it adds, and
        left out (with a note) when those pass a cap."""
        size = _channel.output_size(msg["content"])
        grow: dict[int, int] = {}
        for cell_idx, indices in self._display_id_map.get(display_id, {}).items():
            outputs = self.nb.cells[cell_idx].get("outputs", [])
            grow[cell_idx] = sum(size - _channel.output_size(outputs[i]) for i in indices if i < len(outputs))
        counted = []
        for cell_idx, delta in grow.items():
            why = self.budget.admit(cell_idx, delta)
            if why is not None:
                for done in counted:  # undo what was counted: nothing is updated
                    self.budget.admit(done, -grow[done], force=True)
                self._note(cell_idx, why)
                return
            counted.append(cell_idx)
        super()._update_display_id(display_id, msg)

    def _note(self, cell_index: int, why: str) -> None:
        """The note that says a cap was reached, once per cell and cap."""
        self._caps.setdefault(cell_index, set()).add(why)
        if (cell_index, why) not in self._noted:
            self._noted.add((cell_index, why))
            self.nb.cells[cell_index].setdefault("outputs", []).append(
                nbformat.v4.new_output("stream", name="stderr", text=self.budget.note(why)))

    def output(self, outs, msg, display_id, cell_index):
        """Clip before it is stored, so a print or draw loop cannot grow memory or the stream."""
        keep, cut = self._clip_of.pop(id(msg), None) or self._clip(msg, cell_index)
        if self.clear_before_next_output and not self._hooked(msg):  # a clear_output(wait=True) lands now
            outs[:] = []
            self.clear_display_id_mapping(cell_index)
            self.clear_before_next_output = False
            self.budget.reset(cell_index)
        if keep and not self._hooked(msg):
            why = self.budget.admit(cell_index, _channel.output_size(msg.get("content", {})),
                                    force=msg.get("msg_type") == "error")
            if why is not None and msg.get("msg_type") != "error":
                keep = False
                self._note(cell_index, why)
        out = super().output(outs, msg, display_id, cell_index) if keep else None
        if cut and cell_index not in self._clipped:
            self._clipped.add(cell_index)
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=(
                f"\n[autograde: output truncated - this cell printed more than "
                f"{self.output_chars:,} characters; the rest was dropped]\n")))
        if time.monotonic() - self._last_save > SAVE_EVERY_S:
            self.send_cell(cell_index, False)
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
        if kind in ("execute_result", "display_data", "update_display_data"):
            data, cut, longest = content.get("data", {}), False, 0
            if not isinstance(data, dict):
                content["data"], data = {}, {}
            for mime, value in data.items():
                if isinstance(value, str) and not mime.startswith("image/"):
                    if len(value) > max(room, 0):
                        data[mime], cut = value[:max(room, 0)], True
                    longest = max(longest, len(data[mime]))
            if kind != "update_display_data":
                self._used[cell_index] = self._used.get(cell_index, 0) + longest
            if _channel.clip_bundle(content, self.output_bytes):
                self._caps.setdefault(cell_index, set()).add("output")
            return True, cut
        if kind == "error":  # always kept; the end of a traceback is the useful part
            for key in ("ename", "evalue"):
                if len(str(content.get(key, ""))) > self.output_chars:
                    content[key] = str(content[key])[:self.output_chars] + "..."
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


def _ticker(probes: Probes, stop: threading.Event) -> None:
    """Probe files written by a cell that then runs into the wall limit still reach the parent."""
    while not stop.wait(SAVE_EVERY_S):
        probes.scan()


def opening_cells(nb) -> list:
    """The course's own cells before the first answer cell or cell the student added (imports, data).
    No student code runs in them, so the per-cell limit, there to stop a student's loop, does not
    apply: on a loaded machine the setup cell's imports outlasted the cell limit (what they usually
    cost: `python bench/grading.py`, BENCHMARKS.md §1 part by part), and a timeout there cost the
    student every test. The wall limit still bounds them."""
    given = nb["cells"]
    if isinstance(given, _opening.ArrivingCells):
        # A kernel started ahead: it was given the course's opening cells, by construction. Indexing,
        # not iterating: iterating past them waits for the notebook, which has not been sent yet.
        return [given[i] for i in range(len(given))]
    cells: list = []
    for cell in given:
        meta = cell.get("metadata", {})
        if meta.get("autograde", {}).get("added"):
            return cells
        if meta.get("nbgrader", {}).get("solution"):
            return cells
        cells.append(cell)
    return []  # no answer cell: not a lesson, nothing is the course's opening


def run(nb, workdir: Path, events: Events, cell_timeout: float, output_chars: int,
        interrupt_grace: int = 10, capped: dict | None = None, output_bytes: int = 2 * 2**20,
        cell_output_bytes: int = 8 * 2**20, notebook_output_bytes: int = 50 * 2**20) -> str:
    """Execute `nb` with cwd `workdir`, restarting the kernel without each cell that kills it.
    Returns the final status. Never raises for notebook problems."""
    probes, capped_folders = Probes(workdir / "probe", events), Capped(capped)
    skip: set[int] = set()
    budget = OutputBudget(cell_output_bytes, notebook_output_bytes)  # across restarts: skipped cells keep theirs
    course_opening = {id(c) for c in opening_cells(nb)}  # bounded by the wall limit, not the cell limit
    stop = threading.Event()
    threading.Thread(target=_ticker, args=(probes, stop), daemon=True).start()
    end: dict[str, Any] = {"status": "ok", "cell": None, "error": None}
    while True:
        client = _Client(
            nb, cell_timeout=cell_timeout, output_chars=output_chars, events=events, probes=probes,
            skip=skip, capped=capped_folders, budget=budget, output_bytes=output_bytes,
            timeout_func=lambda cell: None if id(cell) in course_opening else cell_timeout, interrupt_on_timeout=True,
            error_on_timeout={"ename": TIMEOUT_ENAME, "autograde_timeout": True, "traceback": [],
                              "evalue": f"cell timed out after {cell_timeout:g} s and was interrupted"},
            iopub_timeout=interrupt_grace, allow_errors=True, record_timing=True,
            shutdown_kernel="immediate",
            kernel_manager_class=_KernelManager, resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except DeadKernelError as exc:
            if client.running is None or client.running in skip:  # not a cell's doing: nothing to skip
                end.update(status="error", error=f"the kernel died outside any cell: {exc}"[:2000])
                break
            skip.add(client.running)
            events.send(event="crash", cell=client.running)
            continue
        except StuckKernel as exc:
            end.update(status="stuck", cell=exc.args[0])
        except Exception as exc:  # noqa: BLE001 - kernel failed to start, nbclient failure
            where = "while starting the kernel" if client.running is None else f"at cell {client.running}"
            end.update(status="error", cell=client.running, error=f"{type(exc).__name__} {where}: {exc}"[:2000])
        finally:
            atexit.unregister(client._cleanup_kernel)  # nbclient leaves it behind on some failures
            metadata = client.nb.metadata  # widget state lands here, past the output budget: capped as one output
            if len(json.dumps(metadata)) > output_bytes:
                metadata = {k: v for k, v in metadata.items() if k != "widgets"}
            events.send(event="metadata", data=metadata)
        break
    stop.set()
    probes.scan()
    events.send(event="end", **end)
    return end["status"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--user", help="uid:gid to run as (needs CAP_SETUID, CAP_SETGID and CAP_CHOWN)")
    ap.add_argument("--disk-check", action="store_true", help="report cells that fill the capped folders")
    ap.add_argument("--cell-timeout", type=float, default=60.0)
    ap.add_argument("--output-chars", type=int, default=20_000)
    ap.add_argument("--interrupt-grace", type=int, default=10)
    ap.add_argument("--output-bytes", type=int, default=2 * 2**20, help="one rich output")
    ap.add_argument("--cell-output-bytes", type=int, default=8 * 2**20, help="one cell's outputs")
    ap.add_argument("--notebook-output-bytes", type=int, default=50 * 2**20, help="all outputs")
    ap.add_argument("--opening", action="store_true", help="run the course's opening cells first (runner_opening.py)")
    args = ap.parse_args(argv)
    if args.user:
        _identity.become(args.user, args.workdir)
    _identity.not_dumpable()
    (args.workdir / "probe").mkdir(exist_ok=True)
    events = Events()
    try:
        nb = _opening.read_notebook(sys.stdin) if args.opening else nbformat.reads(sys.stdin.read(), as_version=4)
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook, whatever the reason: said to the parent
        events.send(event="end", status="error", cell=None, error=f"unreadable notebook: {exc}"[:2000])
        return 1
    capped = {"working folder": args.workdir, "/tmp": Path("/tmp"), "/dev/shm": Path("/dev/shm")}
    status = run(nb, args.workdir, events, args.cell_timeout, args.output_chars, args.interrupt_grace,
                 capped if args.disk_check else None, args.output_bytes, args.cell_output_bytes,
                 args.notebook_output_bytes)
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
