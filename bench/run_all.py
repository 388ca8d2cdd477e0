"""Run every benchmark in one go and write BENCHMARKS.md (overwritten).

    python bench/run_all.py            # everything, ~30 min on a 2-core CPU; writes BENCHMARKS.md
    python bench/run_all.py --quick    # small sizes, no lesson run; writes out/bench/BENCHMARKS.quick.md
    python bench/run_all.py --only grading optimizer_step

Each script runs in its own process (its figures stream to this terminal and to out/bench/NAME.log)
and hands back a markdown section; BENCHMARKS.md gets the machine, the date, and each section with
the command that reproduces it. The file is rewritten after every section, so an interrupted run
still leaves what it measured.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

LOGS = common.OUT / "bench"

# (key, title, script, args, args with --quick, runs with --quick)
SECTIONS = [
    ("grading", "1. Grading speed", "bench/grading.py", [], ["--quick"], True),
    ("restarts", "1b. Fair grading: what restarts and retests cost", "bench/restarts.py", [], ["--rounds", "1"], True),
    ("start_ahead", "1c. Grading: kernels started ahead", "bench/start_ahead.py", [],
     ["--class-size", "2", "--rounds", "1"], True),
    ("selfcheck", "2. Student self-check (`autograde check`)", "bench/selfcheck.py", [], ["--repeats", "1"], True),
    ("lesson", "3. The lesson end to end, as a student runs it", "bench/lesson.py", [], None, False),
    ("seed_spread", "3b. The lesson's SGD run over seeds", "bench/seed_spread.py", [], None, False),
    ("data_pipeline", "4. Data pipeline: the lesson's per-image pipeline vs tensors", "bench/data_pipeline.py", [],
     ["--sample"], True),
    ("optimizer_step", "5. Optimizer step: the lesson's optimizers vs torch.optim", "bench/optimizer_step.py", [],
     ["--quick"], True),
]


def run_section(key, script, args) -> tuple[int, float, str, str]:
    """Run one script, streaming its output; (rc, seconds, markdown it wrote or '', full output)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    md_path = LOGS / f"{key}.md"
    md_path.unlink(missing_ok=True)
    own = key != "data_pipeline"  # data_pipeline.py is another helper's script: it prints, we parse
    cmd = [sys.executable, script, *args] + (["--markdown", str(md_path)] if own else [])
    print(f"\n$ {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    lines = []
    with open(LOGS / f"{key}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=common.REPO, env=common.bench_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
            lines.append(line)
        rc = proc.wait()
    secs = time.perf_counter() - t0
    output = "".join(lines)
    md = md_path.read_text() if own and md_path.exists() else (data_pipeline_markdown(output) if not own else "")
    return rc, secs, md, output


def data_pipeline_markdown(output: str) -> str:
    """The figures bench/data_pipeline.py prints: the ratio lines and its markdown table."""
    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("One epoch")), None)
    if start is None or not any(ln.startswith("|") for ln in lines[start:]):
        return ""
    ratios = [ln for ln in lines if " vs tensors: " in ln]
    body = "\n".join(lines[start:]).strip()
    return body + ("\n\n" + "\n".join(f"- {r.strip()}" for r in ratios) if ratios else "") + "\n"


def gpu_section() -> str:
    import torch
    from miniai.conv import def_device
    if torch.cuda.is_available():
        return (f"A GPU was available: {common.gpu_note()}. The sections above that train or grade ran on "
                f"`miniai.conv.def_device` = `{def_device}`, as each one's 'Device' line says.\n")
    return ("**No GPU available in this session**: `torch.cuda.is_available()` is False, so every figure above "
            f"was measured on the CPU (`miniai.conv.def_device` = `{def_device}`). grading.py, lesson.py and "
            "optimizer_step.py print the device they ran on and use `def_device`, so on a machine with a GPU "
            "`python bench/run_all.py` measures the GPU path with no change. To check there: grading.py reports "
            "both the grader's device and the device the sandboxed kernels' hidden training runs reported (the "
            "sandbox binds the machine's `/dev/nvidia*` nodes into the kernels' fresh /dev so that they can train "
            "on the GPU; that path has not yet run on a GPU machine).\n")


def header(started: str, total_s: float | None, load_start: str, quick: bool, command: str) -> str:
    status = (f"Total time {total_s / 60:.0f} min." if total_s is not None else "**Run in progress or interrupted**: "
              "sections below are those finished so far.")
    return "\n".join([
        "# Benchmarks",
        "",
        f"Generated by `{command}` on {started}. {status}" + (" **Quick mode: reduced sizes.**" if quick else ""),
        "",
        f"Machine: {common.machine_line()}.",
        f"GPU: {common.gpu_note()}.",
        "",
        f"The machine is shared with other work (load average at the start: {load_start}), so absolute "
        "figures are noisy: each section measures the figures it compares side by side in one run, and repeats "
        "where cheap (median). Each section names the command that reproduces it.",
        "",
    ])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced sizes, no lesson run")
    p.add_argument("--only", nargs="+", choices=[s[0] for s in SECTIONS], help="run only these sections")
    p.add_argument("--output", help="where to write (default BENCHMARKS.md; out/bench/BENCHMARKS.quick.md with --quick)")
    args = p.parse_args()
    output = Path(args.output) if args.output else (LOGS / "BENCHMARKS.quick.md" if args.quick else common.REPO / "BENCHMARKS.md")
    command = "python bench/run_all.py" + (" --quick" if args.quick else "") + (f" --only {' '.join(args.only)}" if args.only else "")
    started = common.now()
    load_start = " ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
    t_all = time.perf_counter()
    done: list[str] = []
    failures = []

    def write(final: bool):
        body = header(started, time.perf_counter() - t_all if final else None, load_start, args.quick, command)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(body + "\n" + "\n".join(done) + ("\n## 6. GPU\n\n" + gpu_section() if final else ""))

    for key, title, script, full_args, quick_args, in_quick in SECTIONS:
        if args.only and key not in args.only:
            continue
        if args.quick and not in_quick:
            done.append(common.section(title, f"python {script}", "_Skipped in quick mode._"))
            continue
        run_args = quick_args if args.quick else full_args
        rc, secs, md, out = run_section(key, script, run_args)
        cmd = " ".join(["python", script, *run_args])
        if rc != 0 or not md.strip():
            failures.append(key)
            md = (md + "\n\n" if md.strip() else "") + (f"**This benchmark failed (exit {rc})**; the end of its output:\n\n"
                                                        f"```\n{common.tail(out, 40)}\n```\n")
        note = f"\n_This section took {secs / 60:.1f} min._\n"
        if key == "data_pipeline":
            note += "_(bench/data_pipeline.py is maintained separately; its printed table is included as is.)_\n"
        done.append(common.section(title, cmd, md + note))
        write(final=False)
    write(final=True)
    print(f"\nwrote {output} ({(time.perf_counter() - t_all) / 60:.1f} min)"
          + (f"; FAILED: {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
