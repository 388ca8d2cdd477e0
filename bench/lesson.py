"""The lesson end to end, as a student runs it: the solutions notebook executed top to bottom.

Not grading mode (NBGRADER_EXECUTION unset): the full Fashion-MNIST (found through miniai's usual
order: MINIAI_DATA, the Debian package dataset-fashion-mnist, the hub, the committed sample), the
lesson's DataLoaders and its seven training runs. Executed with nbclient (a fresh kernel, per-cell
timeout 1800 s, errors recorded and execution continued); the executed notebook is saved to
out/lesson/accel_sgd.ipynb. Reported: wall time, each training run's time and final eval accuracy
(the last 'eval' row of the run's metrics table) beside the accuracy the course's text quotes.

    python bench/lesson.py [--grading-mode] [--out DIR] [--cell-timeout S]

--grading-mode sets NBGRADER_EXECUTION as the grader does (64 images, seconds): a smoke test of
this script, not of the lesson.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

SOLUTIONS = common.REPO / "solutions" / "accel_sgd" / "accel_sgd.ipynb"

# The accuracies the course's text quotes for each run (the markdown after each training cell).
COURSE = {
    "SGD": 0.852,
    "Momentum": 0.876,
    "RMSProp": 0.853,
    "Adam": 0.871,
    "AdamW, cosine stepped per batch": 0.883,
    "AdamW, cosine stepped per epoch": 0.887,
    "AdamW, 1cycle": 0.906,
}


def source(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def run_label(nb, index: int) -> str:
    """Name a training run from the cell that fits and the code cell before it (where the learner is built)."""
    src = source(nb.cells[index])
    prev = next((source(c) for c in reversed(nb.cells[:index]) if c.cell_type == "code"), "")
    both = prev + "\n" + src
    if "OneCycleLR" in src or ("OneCycleLR" in prev and "BatchSchedCB" in both):
        return "AdamW, 1cycle"
    if "EpochSchedCB" in both:
        return "AdamW, cosine stepped per epoch"
    if "BatchSchedCB" in both:
        return "AdamW, cosine stepped per batch"
    m = re.findall(r"opt_func\s*=\s*([\w.]+)", src) or re.findall(r"opt_func\s*=\s*([\w.]+)", prev)
    return m[-1] if m else f"cell #{index + 1}"


_TABLE = re.compile(r"<table[^>]*>(.*?)</table>", re.S)
_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)


def metrics_rows(cell) -> list[dict]:
    """The metrics the cell printed, as dicts: ProgressCB's HTML table (the last one shown), else
    MetricsCB's printed dicts ({'accuracy': '0.852', 'loss': ..., 'epoch': 2, 'train': 'eval'})."""
    tables = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        text = data.get("text/html") or ""
        text = "".join(text) if isinstance(text, list) else text
        for t in _TABLE.findall(text):
            rows = [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in _CELL.findall(r)] for r in _ROW.findall(t)]
            if rows and "accuracy" in rows[0]:
                tables.append([dict(zip(rows[0], r)) for r in rows[1:]])
    if tables:
        return tables[-1]
    found = []
    for out in cell.get("outputs", []):
        text = out.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        for m in re.finditer(r"\{[^{}]*'accuracy'[^{}]*\}", text):
            try:
                import ast
                found.append({k: str(v) for k, v in ast.literal_eval(m.group(0)).items()})
            except (ValueError, SyntaxError):
                pass
    return found


def cell_seconds(cell) -> float | None:
    ex = cell.get("metadata", {}).get("execution", {})
    a, b = ex.get("iopub.execute_input") or ex.get("shell.execute_request"), ex.get("shell.execute_reply")
    if not (a and b):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def errors(nb) -> list[tuple[int, str]]:
    found = []
    for i, c in enumerate(nb.cells):
        for out in c.get("outputs", []):
            if out.get("output_type") == "error":
                tb = "\n".join(out.get("traceback", []))
                tb = re.sub(r"\x1b\[[0-9;]*m", "", tb)
                found.append((i, f"{out.get('ename')}: {out.get('evalue')}\n{tb}"))
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grading-mode", action="store_true", help="set NBGRADER_EXECUTION (tiny data): tests this script")
    p.add_argument("--out", default=str(common.OUT / "lesson"), help="where the executed notebook goes")
    p.add_argument("--cell-timeout", type=int, default=1800)
    p.add_argument("--quick", action="store_true", help="same as --grading-mode")
    common.add_markdown_arg(p)
    args = p.parse_args()
    grading = args.grading_mode or args.quick
    import nbformat
    from nbclient import NotebookClient

    common.set_offline()
    for k in ("NBGRADER_EXECUTION", "AUTOGRADE_PROBE_DIR"):
        os.environ.pop(k, None)
    if grading:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ("accel_sgd.grading-mode.ipynb" if grading else "accel_sgd.ipynb")
    print(common.machine_line())
    device = common.device_description()
    print(f"device: {device}; executing {SOLUTIONS.relative_to(common.REPO)} "
          f"({'grading mode' if grading else 'as a student, full data'}), cwd {out_dir}", flush=True)
    nb = nbformat.read(SOLUTIONS, as_version=4)
    client = NotebookClient(nb, timeout=args.cell_timeout, allow_errors=True, record_timing=True,
                            kernel_name="python3", resources={"metadata": {"path": str(out_dir)}})
    t0 = time.perf_counter()
    failure = None
    try:
        client.execute()
    except Exception as e:  # noqa: BLE001 - a timeout or a dead kernel: report what ran
        failure = f"{type(e).__name__}: {str(e)[:2000]}"
    wall = time.perf_counter() - t0
    nbformat.write(nb, target)
    print(f"executed in {wall:.0f} s -> {target}", flush=True)

    runs = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        rows = metrics_rows(c)
        evals = [r for r in rows if r.get("train") == "eval"]
        if not evals:
            continue
        label = run_label(nb, i)
        acc = float(evals[-1]["accuracy"])
        runs.append((label, i, cell_seconds(c), len(evals), acc, float(evals[-1].get("loss", "nan"))))
        print(f"  {label:<34} cell #{i + 1}: {len(evals)} epochs, {cell_seconds(c) or 0:.0f} s, "
              f"eval accuracy {acc:.3f} (course: {COURSE.get(label, float('nan')):.3f})", flush=True)
    data_line = next((o.get("text", "") for c in nb.cells
                      if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "data"
                      for o in c.get("outputs", []) if o.get("output_type") == "stream"), "")
    data_line = ("".join(data_line) if isinstance(data_line, list) else data_line).strip().splitlines()
    errs = errors(nb)
    timed = [(i, cell_seconds(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    cells_total = sum(s for _, s in timed if s)

    rows = []
    for label, i, secs, epochs, acc, _loss in runs:
        course = COURSE.get(label)
        rows.append([label, f"#{i + 1}", epochs, common.fmt_s(secs, 0), f"{acc:.3f}",
                     f"{course:.3f}" if course else "–", f"{acc - course:+.3f}" if course else "–"])
    missing = [k for k in COURSE if k not in {r[0] for r in runs}]
    lines = [
        f"Measured on: {common.machine_line()}. Device: **{device}**.",
        "",
        f"`{SOLUTIONS.relative_to(common.REPO)}` executed top to bottom with nbclient "
        f"({'GRADING MODE: 64 images — a smoke test of this script, not the lesson' if grading else 'not grading mode, as a student runs it'}; "
        f"cell timeout {args.cell_timeout} s). Data: {data_line[0] if data_line else 'see the notebook'}",
        "",
        f"**Wall time: {wall:.0f} s ({wall / 60:.1f} min)**, of which {cells_total:.0f} s in cells "
        f"({len(timed)} code cells; the rest is kernel start and nbclient). The executed notebook is in "
        f"`{target.relative_to(common.REPO) if target.is_relative_to(common.REPO) else target}` (not committed).",
        "",
        common.md_table(["run", "cell", "epochs", "seconds", "final eval accuracy", "course's", "difference"],
                        rows, align="llrrrrr"),
        "",
    ]
    top = sorted((s, i) for i, s in timed if s)[::-1][:3]
    lines.append("Slowest cells: " + "; ".join(f"#{i + 1} `{source(nb.cells[i]).strip().splitlines()[0][:50]}` {s:.0f} s"
                                               for s, i in top) + ".")
    if missing:
        lines.append(f"\nNo metrics table found for: {', '.join(missing)}.")
    if failure:
        lines.append(f"\n**Execution stopped:** {failure}")
    if errs:
        lines.append(f"\n**{len(errs)} cell(s) raised errors.** The first, in cell #{errs[0][0] + 1}:\n\n```\n"
                     f"{common.tail(errs[0][1], 40)}\n```")
    else:
        lines.append("\nNo cell raised an error.")
    md = "\n".join(lines) + "\n"
    common.emit(md, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
