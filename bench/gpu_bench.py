"""Grading on a GPU: time per submission with 1 and with several submissions per GPU, and whether the
verdicts agree with the CPU's. Run by bench/gpu_checks.sh on a lent GPU machine (minutes, not more).

The class: the sample class (autograde/samples: correct, mistakes, a cheat, a crash, an untouched
lesson) and the correct variants of tests/corpus.py. Each grading is the real command,
`autograde grade SUB --out DIR --regrade` with --gpus/--per-gpu/--jobs, in a fresh process, while a
thread samples nvidia-smi (how many kernels held the GPU at once, and their peak memory).

    python bench/gpu_bench.py --out out/gpu [--budget-s 400] [--per-gpu 4]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat

from autograde import paths

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def build_class(root: Path) -> list[str]:
    from corpus import CORRECT_VARIANTS, notebook_with, variant_sources
    for sample in sorted((REPO / "autograde" / "samples").iterdir()):
        if sample.is_dir():
            shutil.copytree(sample, root / sample.name)
    lesson = nbformat.read(REPO / "lessons" / "accel_sgd" / "accel_sgd.ipynb", as_version=4)
    for name, answers in CORRECT_VARIANTS.items():
        path = root / f"variant_{name}" / paths.ASSIGNMENT / f"{paths.ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nbformat.from_dict(notebook_with(lesson, variant_sources(answers))), path)
    return sorted(p.name for p in root.iterdir() if p.is_dir())


class GpuSampler(threading.Thread):
    """Polls nvidia-smi: the most compute processes on the GPU at once, and the most memory one used."""

    def __init__(self):
        super().__init__(daemon=True)
        self.most_processes, self.most_mib, self._stop = 0, 0, threading.Event()

    def run(self):
        while not self._stop.wait(0.5):
            out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True).stdout
            rows = [r.split(",") for r in out.strip().splitlines() if r.strip()]
            self.most_processes = max(self.most_processes, len(rows))
            self.most_mib = max([self.most_mib] + [int(r[1]) for r in rows if r[1].strip().isdigit()])

    def stop(self):
        self._stop.set()


def grade(label: str, submitted: Path, out: Path, options: list[str], timeout_s: float) -> dict:
    """One real `autograde grade` run; its wall time, scores per (student, cell) and GPU use."""
    dest = out / label
    shutil.rmtree(dest, ignore_errors=True)
    sampler = GpuSampler() if shutil.which("nvidia-smi") else None
    if sampler:
        sampler.start()
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(submitted), "--out", str(dest),
                               "--regrade", *options], capture_output=True, text=True, timeout=timeout_s, cwd=REPO)
        rc, log = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, log = "timeout", f"{e.stdout or ''}{e.stderr or ''}"
    wall = time.monotonic() - t0
    if sampler:
        sampler.stop()
    (out / f"{label}.log").write_text(log if isinstance(log, str) else log.decode(errors="replace"))
    scores = {}
    cells = dest / "grader" / "cells.csv"
    if cells.exists():
        for row in csv.DictReader(cells.open()):
            scores[(row["student_id"], row["grade_id"])] = row["score"]
    return {"label": label, "options": " ".join(options), "rc": rc, "wall_s": round(wall, 1),
            "submissions": len({s for s, _ in scores}), "scores": scores,
            "gpu_processes": sampler.most_processes if sampler else None,
            "gpu_mib": sampler.most_mib if sampler else None}


def agreement(a: dict, b: dict) -> str:
    common = set(a["scores"]) & set(b["scores"])
    differ = sorted(k for k in common if a["scores"][k] != b["scores"][k])
    text = f"{len(common) - len(differ)} of {len(common)} cell scores equal"
    return text + (f"; differ: {', '.join(f'{s}/{g}' for s, g in differ[:8])}" if differ else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=REPO / "out" / "gpu")
    ap.add_argument("--budget-s", type=float, default=400)
    ap.add_argument("--per-gpu", type=int, default=4)
    args = ap.parse_args(argv)
    start = time.monotonic()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "class"
    shutil.rmtree(work, ignore_errors=True)
    students = build_class(work / "submitted")
    subset = work / "subset"
    for sid in students[:3]:
        shutil.copytree(work / "submitted" / sid, subset / sid)
    cores = os.cpu_count() or 1
    plans = [  # (label, class, options, most of the budget it may take)
        ("gpu_shared", work / "submitted", ["--gpus", "0", "--per-gpu", str(args.per_gpu)], 0.35),
        ("cpu", work / "submitted", ["--gpus", "none", "--jobs", str(max(1, cores // 2))], 0.35),
        ("gpu_alone", subset, ["--gpus", "0", "--per-gpu", "1"], 0.3),
        ("gpu_shared_again", work / "submitted", ["--gpus", "0", "--per-gpu", str(args.per_gpu)], 1.0)]
    runs = {}
    for label, submitted, options, share in plans:
        left = args.budget_s - (time.monotonic() - start)
        if left < 60:
            print(f"skipped {label}: {left:.0f} s of the budget left")
            continue
        runs[label] = grade(label, submitted, out, options, min(left, share * args.budget_s))
        r = runs[label]
        print(f"{label}: {r['options']}: rc {r['rc']}, {r['submissions']} submission(s) in {r['wall_s']} s, "
              f"at most {r['gpu_processes']} process(es) on the GPU, {r['gpu_mib']} MiB", flush=True)
    lines = ["| grading | options | submissions | wall s | s per submission | most processes on the GPU | "
             "most GPU MiB of one |", "|---|---|---|---|---|---|---|"]
    for r in runs.values():
        per = r["wall_s"] / r["submissions"] if r["submissions"] else float("nan")
        lines.append(f"| {r['label']} | `{r['options']}` | {r['submissions']} | {r['wall_s']} | {per:.1f} | "
                     f"{r['gpu_processes']} | {r['gpu_mib']} |")
    for a, b in (("gpu_shared", "cpu"), ("gpu_alone", "cpu"), ("gpu_shared", "gpu_shared_again")):
        if a in runs and b in runs:
            lines.append(f"\n{a} vs {b}: {agreement(runs[a], runs[b])}")
    (out / "gpu_bench.md").write_text("\n".join(lines) + "\n")
    (out / "gpu_bench.json").write_text(json.dumps({k: {**v, "scores": {f"{s}/{g}": x for (s, g), x in
                                                                         v["scores"].items()}}
                                                    for k, v in runs.items()}, indent=1))
    print("\n".join(lines))
    return 0 if runs and all(r["rc"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
