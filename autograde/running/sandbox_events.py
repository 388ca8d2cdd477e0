"""The grader's side of the runner's event stream, and what it says about the run.

The runner (kernel_runner.py) reports every cell, every probe file and every kernel crash as JSON
lines on its own stdout pipe. That pipe is the only thing the grader reads from the sandbox: no
status file, no executed notebook and no probe file is ever opened on the host, so a kernel can
neither forge the run's status nor name a path the grader would open. A run killed from outside
still leaves everything reported before the kill.
"""
from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import nbformat

log = logging.getLogger(__name__)

# One event; the runner caps a cell's outputs (Limits.cell_output_bytes) and a probe at 20 MB.
MAX_LINE_BYTES = 64 * 2**20
MAX_PROBES = 64


@dataclass
class RunnerReport:
    """Everything the runner said, latest first-hand value per cell and per probe."""
    cells: dict = field(default_factory=dict)  # index -> executed cell (dict)
    seconds: dict = field(default_factory=dict)  # index -> seconds
    errors: dict = field(default_factory=dict)  # index -> text
    timed_out: set = field(default_factory=set)
    crashed: list = field(default_factory=list)  # cells that killed a kernel, in order
    full: dict = field(default_factory=dict)  # index -> capped folders the cell left full
    capped: dict = field(default_factory=dict)  # index -> caps its outputs reached ('output', 'cell', 'notebook')
    probes: dict = field(default_factory=dict)  # test id -> raw bytes
    metadata: dict | None = None
    running: int | None = None
    running_since: float | None = None  # time.monotonic() here, when the cell started
    end: dict | None = None
    oom_kills: Callable[[], int] | None = None  # the submission cgroup's count of processes stopped for memory
    memory: list = field(default_factory=list)  # cells in which the memory cap stopped a process, in order
    _oom_seen: int = 0

    def note_memory(self, cell: int | None) -> None:
        """Blame `cell` for the processes the memory cap stopped since the last look."""
        if self.oom_kills is None:
            return
        count = self.oom_kills()
        if count > self._oom_seen:
            self._oom_seen = count
            if cell is not None and cell not in self.memory:
                self.memory.append(cell)

    def feed(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "cell_start":
            self.note_memory(self.running)  # a kill between cells: the cell before (if any)
            self.running, self.running_since = int(event["cell"]), time.monotonic()
        elif kind == "cell":
            i = int(event["cell"])
            self.cells[i] = event["data"]
            if event.get("final"):
                self.note_memory(i)
                self.running = None
                self.seconds[i] = float(event["seconds"])
                self.errors.pop(i, None)
                if event.get("error"):
                    self.errors[i] = str(event["error"])
                self.timed_out.discard(i)
                if event.get("timed_out"):
                    self.timed_out.add(i)
                self.full[i] = list(event.get("full") or [])
                if not self.full[i]:
                    del self.full[i]
                self.capped[i] = [str(c) for c in event.get("capped") or []]
                if not self.capped[i]:
                    del self.capped[i]
        elif kind == "probe":
            if event["name"] in self.probes or len(self.probes) < MAX_PROBES:
                self.probes[str(event["name"])] = base64.b64decode(event["data"])
        elif kind == "crash":
            self.crashed.append(int(event["cell"]))
        elif kind == "metadata":
            self.metadata = event["data"]
        elif kind == "end":
            self.end = event


def read_events(pipe, report: RunnerReport) -> None:
    """Feed every line of `pipe` to `report` until EOF; a line over the cap is skipped whole."""
    buf, skipping = bytearray(), False
    for chunk in iter(lambda: pipe.read1(1 << 20), b""):
        buf += chunk
        while (nl := buf.find(b"\n")) >= 0:
            line = bytes(buf[:nl])
            del buf[:nl + 1]
            if skipping:
                skipping = False
                continue
            try:
                report.feed(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring a malformed runner event: %s", exc)
        if len(buf) > MAX_LINE_BYTES:
            log.warning("ignoring a runner event over %d bytes", MAX_LINE_BYTES)
            buf.clear()
            skipping = True
    pipe.close()


def executed_notebook(nb: dict, report: RunnerReport, output_bytes: int | None = None) -> dict:
    """The input notebook with every cell the runner reported replaced by its executed version.
    `output_bytes`: what all cells' outputs may hold together (the runner keeps to it; this is the
    grader's own guard): past it, a cell's outputs are replaced by a note."""
    out = nbformat.from_dict(json.loads(json.dumps(nb)))
    total = 0
    most = None if output_bytes is None else output_bytes + 2**20  # room for the runner's own notes
    for i, cell in sorted(report.cells.items()):
        if 0 <= i < len(out.cells):
            out.cells[i] = nbformat.from_dict(cell)
            if most is not None and output_bytes is not None and out.cells[i].get("outputs"):
                total += len(json.dumps(out.cells[i]["outputs"]))
                if total > most:
                    out.cells[i]["outputs"] = [nbformat.v4.new_output("stream", name="stderr", text=(
                        f"[autograde: your notebook's outputs passed {output_bytes / 2**20:.0f} MB in total; "
                        f"this cell's outputs were dropped]\n"))]
    if isinstance(report.metadata, dict) and (most is None or len(json.dumps(report.metadata)) <= most):
        out.metadata.update(nbformat.from_dict(report.metadata))
    return out


def cell_label(nb: dict, index: int | None) -> str:
    if index is None or not 0 <= index < len(nb.get("cells", [])):
        return "a cell"
    source = nb["cells"][index].get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    if len(line) > 60:
        line = line[:57] + "..."
    return f"cell #{index + 1} (`{line}`)" if line else f"cell #{index + 1}"


def _labels(nb: dict, cells: list, most: int = 3) -> str:
    names = [cell_label(nb, i) for i in cells[:most]]
    if len(cells) > most:
        return ", ".join(names) + f" and {len(cells) - most} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MB"


def cap_notes(report: RunnerReport, nb: dict, *, output_bytes: int, cell_output_bytes: int,
              notebook_output_bytes: int, memory_total_bytes: int | None = None) -> list[str]:
    """One sentence per size cap the run reached, in the student's words (empty when none was)."""
    notes = []
    caps = {kind: [i for i, c in sorted(report.capped.items()) if kind in c] for kind in ("output", "cell", "notebook")}
    if caps["output"]:
        notes.append(f"{_labels(nb, caps['output'])[0].upper()}{_labels(nb, caps['output'])[1:]} showed an output "
                     f"larger than {_mb(output_bytes)} (an image, for instance); "
                     "it was dropped from the executed notebook.")
    if caps["cell"]:
        notes.append(f"The outputs of {_labels(nb, caps['cell'])} passed {_mb(cell_output_bytes)}, the most one "
                     f"cell may show; later outputs of that cell were dropped.")
    if caps["notebook"]:
        notes.append(f"Your notebook's outputs passed {_mb(notebook_output_bytes)} in total; later outputs were "
                     f"dropped, from {cell_label(nb, caps['notebook'][0])} on.")
    survived = [i for i in report.memory if i not in report.crashed and (report.end or i != report.running)]
    if survived:
        memory = _memory_words(memory_total_bytes)
        notes.append(f"{memory[0].upper()}{memory[1:]}: in {_labels(nb, survived)} the system stopped one of the "
                     f"processes it had started.")
    return notes


def _memory_words(total_bytes: int | None) -> str:
    """What the memory cap stopped, in the student's words."""
    if not total_bytes:
        amount = "more memory than a submission may use"
    elif total_bytes >= 2**30:
        amount = f"more than {round(total_bytes / 2**30, 2):g} GiB of memory"
    else:
        amount = f"more than {round(total_bytes / 2**20):g} MiB of memory"
    return (f"your submission used {amount} in total (its processes and the files it wrote to its working "
            f"folder, /tmp and /dev/shm together)")


def summarize(report: RunnerReport, nb: dict, *, wall_hit: bool, wall_s: float, cell_s: float,
              memory_bytes: int, log_tail: str, memory_total_bytes: int | None = None) -> tuple[str, str, dict, dict]:
    """(status, message, cell_errors, cell_seconds) of a finished run."""
    errors, seconds = dict(report.errors), dict(report.seconds)
    end, running, after = report.end, report.running, "; cells after it did not run."
    gib = memory_bytes / 2**30
    report.note_memory(running if end is None else None)  # a kill that ended the run: the cell it was in
    memory = _memory_words(memory_total_bytes)
    crashes = ""
    died = [i for i in report.crashed if i not in report.memory]
    stopped = [i for i in report.crashed if i in report.memory]
    for i in died:
        errors[i] = "the kernel died"
    for i in stopped:
        errors[i] = f"{memory}, so the kernel was stopped in this cell"
    if died:
        crashes = (f" The kernel died in {_labels(nb, died)} (a crash, an exit, or running out of "
                   f"memory: the limit is {gib:g} GiB); it was restarted and the notebook ran again without "
                   f"{'that cell' if len(died) == 1 else 'those cells'}.")
    if stopped:
        crashes += (f" {memory[0].upper()}{memory[1:]}: the kernel was stopped in {_labels(nb, stopped)}, "
                    "restarted, and the notebook ran again without "
                    f"{'that cell' if len(stopped) == 1 else 'those cells'}.")
    survived = [i for i in report.memory if i not in report.crashed and i != running]
    if survived:  # the kernel lived on: one of the processes it started was stopped
        crashes += (f" {memory[0].upper()}{memory[1:]}: in {_labels(nb, survived)} the system stopped one of the "
                    f"processes it had started.")
        for i in survived:
            errors[i] = f"{memory}, so the system stopped one of its processes in this cell" + (
                f" ({errors[i]})" if i in errors else "")
    if end is None and running is not None and report.running_since is not None:  # stopped mid-cell
        seconds[running] = round(time.monotonic() - report.running_since, 3)
    if wall_hit and end is None:
        if running is None:
            return "timeout", (f"The notebook was stopped at the {wall_s:g} s time limit"
                               f"{' before any cell ran' if not seconds else ''}.{crashes}"), errors, seconds
        errors[running] = f"stopped by the {wall_s:g} s time limit"
        return "timeout", (f"The notebook was stopped at the {wall_s:g} s time limit while running "
                           f"{cell_label(nb, running)}{after}{crashes}"), errors, seconds
    if end is not None and end.get("status") == "stuck":
        label = cell_label(nb, end.get("cell"))
        return "timeout", (f"{label[0].upper()}{label[1:]} ran past the {cell_s:g} s cell time limit and did "
                           f"not stop when interrupted{after}{crashes}"), errors, seconds
    if end is None or (end.get("status") == "error" and (seconds or end.get("cell") is not None)):
        # The runner stopped without its last word, or failed once cells had run: the kernel's doing.
        if end is None and not seconds and running is None:
            reason = (log_tail.strip().splitlines() or ["the runner stopped without a word"])[-1]
            return "error", f"The grader could not run the notebook: {reason}", errors, seconds
        where = running if running is not None else (end or {}).get("cell")
        if where is not None and where in report.memory:
            errors[where] = f"{memory}, so the run was stopped in this cell"
            return "dead", (f"{memory[0].upper()}{memory[1:]}: the run was stopped in {cell_label(nb, where)}"
                            f"{after}{crashes}"), errors, seconds
        if where is not None:
            errors[where] = "the kernel died"
        return "dead", (f"The run stopped while running {cell_label(nb, where)} (a crash, an exit, or running "
                        f"out of memory: the limit is {gib:g} GiB){after}{crashes}"), errors, seconds
    if end.get("status") == "error":
        return "error", f"The grader could not run the notebook: {end.get('error')}", errors, seconds
    full = "".join(f" {cell_label(nb, i)[0].upper()}{cell_label(nb, i)[1:]} filled {', '.join(f)} to "
                   f"its size cap; writing more there failed." for i, f in sorted(report.full.items()))
    if report.crashed:
        return "dead", crashes.strip() + full, errors, seconds
    if not errors:
        return "ok", f"All {len(seconds)} code cells ran without errors.{full}", errors, seconds
    first = min(errors)
    return "ok", (f"The notebook ran to the end; {len(errors)} cell(s) had errors, the first "
                  f"in {cell_label(nb, first)}: {errors[first]}{full}{crashes if first not in survived else ''}"
                  ), errors, seconds
