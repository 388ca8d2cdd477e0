"""Does the course's own notebook run unchanged on our miniai, as fast, and to the same accuracies?

course22p2's nbs/12_accel_sgd.ipynb (fast.ai, Apache-2.0) is executed cell by cell in a real kernel with
miniai importable. One cell is put in front of it, and nothing in it is edited: it points
`datasets.load_dataset('fashion_mnist')` at miniai's offline loader (`load_fashion_mnist`), because the
Hugging Face hub cannot be reached from these machines. The run prints its wall time, every cell that
raised (the notebook's last cell, `nbdev_export`, needs the course's nbdev project and is expected to
fail outside it), and each training run's last test accuracy beside the one the course's notebook
shows in its committed outputs.

    git clone https://github.com/fastai/course22p2     # or: the tool library's `fetch github:fastai/course22p2`
    python bench/course_notebook.py course22p2/nbs/12_accel_sgd.ipynb [--executed out.ipynb]

The accuracies of one seeded run on a CPU differ from the course's (recorded on a GPU) by the
run-to-run spread of those runs; bench/seed_spread.py measures that spread for the lesson's SGD run.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
import tempfile
import time
from pathlib import Path

SHIM = ("import datasets\n"
        "from miniai.datasets import load_fashion_mnist\n"
        "datasets.load_dataset = lambda name, *args, **kwargs: load_fashion_mnist()")


def accuracies(nb) -> list[tuple[int, float]]:
    """(cell index, last test accuracy) for each cell whose output is a MetricsCB table."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            table = out.get("data", {}).get("text/html", "")
            rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.split(r"<tr>", table)]
            evals = [r for r in rows if "eval" in r]
            if "accuracy" in table and evals:
                found.append((i, float(html.unescape(evals[-1][0]))))
    return found


def errors(nb) -> list[tuple[int, str, str]]:
    return [(i, o.get("ename", ""), o.get("evalue", "")[:120]) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="course22p2's nbs/12_accel_sgd.ipynb")
    parser.add_argument("--executed", type=Path, help="also write the executed notebook here")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may take (default 1800)")
    args = parser.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient

    course = nbformat.read(args.notebook, as_version=4)
    nb = nbformat.read(args.notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.insert(0, nbformat.v4.new_code_cell(SHIM))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        NotebookClient(nb, timeout=args.timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": work}}).execute()
    wall = time.perf_counter() - started
    code_cells = sum(c.cell_type == "code" for c in course.cells)
    print(f"{args.notebook.name}: {code_cells} code cells in {wall:.0f} s on our miniai")
    print("cells that raised:", errors(nb) or "none")
    ours = [acc for _, acc in accuracies(nb)]
    theirs = [acc for _, acc in accuracies(course)]
    print("run  ours   course  difference")
    for k, (a, b) in enumerate(zip(ours, theirs), 1):
        print(f"{k:>3}  {a:.3f}  {b:.3f}   {a - b:+.3f}")
    if len(ours) != len(theirs):
        print(f"runs: {len(ours)} here, {len(theirs)} in the course's outputs")
    if args.executed:
        nbformat.write(nb, args.executed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
