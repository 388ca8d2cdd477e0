"""Grading speed: `autograde grade` on one submission and on a class, against plain `nbgrader autograde`.

Builds a class from the released lesson (lessons/accel_sgd/accel_sgd.ipynb) in a temp dir — the
solution answers, correct answers written differently (tests/corpus.py), catalogued mistakes
(autograde/mistakes.py) and untouched notebooks — and measures, side by side in one run:

  (a) one submission graded alone through the CLI, wall time of the whole command (process start,
      kernel start, grading, gradebook, feedback, report): once with a cold reference cache (the
      first grading into a new OUT trains the solution's short runs) and with a warm one (median);
  (b) the class at --jobs 1 and at --jobs 2;
  (c) the baseline: plain serial `nbgrader autograde` on the same notebooks (unsandboxed; the hidden
      test cells judge in the kernel, as autograde.visible.probe does without AUTOGRADE_PROBE_DIR).

Every `autograde grade` runs in a fresh Python process as `autograde.cli.main([...])`, exactly what
the console script does, with timers wrapped around the phases of `grade_class` (the wrapper adds
nothing else), so the wall time can be broken down, and per cell from grade_submission's `timings`.

    python bench/grading.py [--quick] [--class-size N] [--repeats N] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

REFERENCE_PHASE = "∥ reference data (first torch import; solution's short runs from the disk cache)"
GRADEBOOK_PHASE = "∥ gradebook: nbgrader generate_assignment"
CLI_FLAG = "--_instrumented-cli"   # internal: run autograde.cli.main with phase timers (a child process)
ASSIGNMENT = "accel_sgd"


# ---------------------------------------------------------------------------------------------
# The child: autograde.cli.main with timers around grade_class's phases


def instrumented_cli(result_path: str, argv: list[str]) -> int:
    started_wall = time.time()
    t0 = time.perf_counter()
    from autograde import cli  # what the console script imports first
    phases: dict[str, float] = {"import autograde.cli": time.perf_counter() - t0}
    intervals = [(t0, time.perf_counter())]  # every timed span, so concurrent phases are not counted twice
    from autograde.outputs import feedback, gradebook, report, results
    from autograde.trusted import grade
    from autograde.running import sandbox
    phases["import grading modules"] = time.perf_counter() - t0 - phases["import autograde.cli"]
    intervals.append((intervals[0][1], time.perf_counter()))
    captured: dict = {}

    def wrap(module, name, label, keep=False):
        fn = getattr(module, name, None)
        if fn is None:
            return

        def timed(*a, **k):
            s = time.perf_counter()
            try:
                out = fn(*a, **k)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - s
                intervals.append((s, time.perf_counter()))
            if keep:
                captured[label] = out
            return out
        setattr(module, name, timed)

    wrap(sandbox, "bwrap_available", "bwrap self-test")
    wrap(grade, "find_submissions", "find submissions")
    wrap(grade, "load_setup", "load the grading setup (solutions notebook -> canonical)")
    wrap(grade, "_warm_reference", REFERENCE_PHASE)
    wrap(grade, "grade_all", "grade_all (kernels + judge)", keep=True)
    wrap(results, "write_csvs", "write CSVs")
    wrap(results, "write_executed", "write executed notebooks")
    wrap(gradebook, "create", GRADEBOOK_PHASE)
    wrap(gradebook, "record", "gradebook: record scores")
    wrap(feedback, "write_feedback", "feedback pages")
    wrap(report, "write_report", "class report")
    kernel_devices: set = set()
    try:
        from autograde.trusted import judge as judge_mod
        real_judge = judge_mod.judge

        def noting_judge(test_id, data):  # the short runs' data names the device the kernel trained on
            if isinstance(data, dict) and isinstance(data.get("device"), str):
                kernel_devices.add(data["device"])
            return real_judge(test_id, data)
        judge_mod.judge = noting_judge  # seen in this process only: --jobs 1 (workers judge with --jobs 2)
    except ImportError:
        pass
    t_main = time.perf_counter()
    rc = cli.main(argv)
    main_s = time.perf_counter() - t_main
    graded = captured.get("grade_all (kernels + judge)") or []
    subs = []
    for r in (g.to_dict() for g in graded):  # grade_all gives SubmissionResult records
        cells = []
        for c in (r.get("executed") or {}).get("cells", []):
            meta = c.get("metadata", {})
            src = c.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            first = next((ln.strip() for ln in src.splitlines() if ln.strip()), "")
            cells.append({"grade_id": meta.get("nbgrader", {}).get("grade_id"),
                          "added": bool(meta.get("autograde", {}).get("added")),
                          "type": c.get("cell_type"), "first": first[:60]})
        auto = [c for c in r["cells"] if c["auto"]]
        subs.append({"student_id": r["student_id"], "status": r["status"], "message": r["message"][:200],
                     "auto_score": round(sum(c["score"] or 0 for c in auto), 4),
                     "auto_max": round(sum(c["max_score"] for c in auto), 4),
                     "mistakes": sorted({c["mistake"] for c in r["cells"] if c.get("mistake")}),
                     "sandboxed": r.get("sandboxed"), "timings": r.get("timings") or {}, "cells": cells})
    Path(result_path).write_text(json.dumps({
        "started_wall": started_wall, "main_s": main_s, "rc": rc, "phases": phases,
        "timed_union_s": _union_length(intervals),
        "ended_wall": time.time(), "submissions": subs, "kernel_devices": sorted(kernel_devices)}))
    return rc


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


# ---------------------------------------------------------------------------------------------
# The class


def build_class(dest: Path, size: int) -> list[tuple[str, str]]:
    """Write `size` submissions under dest/{student}/accel_sgd/accel_sgd.ipynb; (student, kind) each.

    The order mixes kinds so that any prefix is a representative class (--quick takes 4)."""
    import nbformat
    sys.path.insert(0, str(common.REPO / "tools"))
    sys.path.insert(0, str(common.REPO / "tests"))
    from autograde.trusted import mistakes, solution as reference
    from corpus import CORRECT_VARIANTS, notebook_with, variant_sources
    from make_samples import LESSON, WRITTEN, with_mistakes

    lesson = nbformat.read(LESSON, as_version=4)
    sol = reference.solution_sources()
    variants = list(CORRECT_VARIANTS)
    wanted = [("adam_eps_outside",), ("sgd_l2_not_decay",), ("momentum_undampened",), ("rmsprop_eps_inside",),
              ("adam_no_bias_correction",), ("sched_steps_in_validation",), ("batch_sched_per_epoch",),
              ("epoch_sched_per_batch",), ("has_learn_not_cleared",), ("recorder_not_reset",),
              ("rmsprop_zero_init", "adam_betas_swapped")]
    others = [(m.key,) for m in mistakes.CATALOGUE if (m.key,) not in wanted]
    mistake_sets = [ks for ks in wanted if all(k in mistakes.BY_KEY for k in ks)]
    mistake_sets += others[:len(wanted) - len(mistake_sets)]
    kinds = ["correct", "variant", "mistake", "unfilled", "correct", "variant", "mistake", "mistake", "mistake",
             "mistake", "mistake", "correct", "mistake", "mistake", "mistake", "mistake", "mistake", "correct",
             "correct", "unfilled"]
    kinds += ["mistake" if i % 3 else "correct" for i in range(max(0, size - len(kinds)))]
    counters: dict[str, int] = {}
    made = []
    for n, kind in enumerate(kinds[:size], start=1):
        k = counters[kind] = counters.get(kind, 0) + 1
        if kind == "correct":
            answers = {**sol, **WRITTEN} if k % 2 else dict(sol)
            label = "solution"
        elif kind == "variant":
            name = variants[(k - 1) % len(variants)]
            answers = {**variant_sources(CORRECT_VARIANTS[name]), **WRITTEN}
            label = name
        elif kind == "mistake":
            keys = mistake_sets[(k - 1) % len(mistake_sets)]
            answers = with_mistakes(*keys)
            label = "+".join(keys)
        else:
            answers, label = {}, "untouched lesson"
        sid = f"s{n:02d}_{kind}"
        path = dest / sid / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook_with(lesson, answers), path)
        made.append((sid, f"{kind}: {label}"))
    return made


# ---------------------------------------------------------------------------------------------
# Runs


def run_autograde(submitted: Path, out: Path, jobs: int, work: Path, env: dict, label: str,
                  regrade: bool = True) -> dict:
    """`autograde grade` in a fresh process; wall time, phases and per-submission timings.
    regrade: grade every submission (the runs share a cache, where earlier results would be reused)."""
    result = work / f"{label}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), CLI_FLAG, str(result),
           "grade", str(submitted), "--out", str(out), "--jobs", str(jobs), *(["--regrade"] if regrade else [])]
    start_wall = time.time()
    wall, proc = common.timed_run(cmd, env=env, log=work / f"{label}.log")
    end_wall = time.time()
    if proc.returncode not in (0, 2) or not result.exists():
        raise RuntimeError(f"autograde grade ({label}) failed, rc {proc.returncode}:\n{common.tail(proc.stderr, 40)}")
    data = json.loads(result.read_text())
    data["wall"] = wall
    data["process_start"] = max(0.0, data["started_wall"] - start_wall)
    data["process_exit"] = max(0.0, end_wall - data["ended_wall"])
    n = len(data["submissions"])
    print(f"  {label}: {n} submission(s), {wall:.1f} s wall ({wall / max(n, 1):.1f} s each), rc {proc.returncode}",
          flush=True)
    return data


def setup_nbgrader(base: Path, submitted: Path, env: dict) -> float:
    """An nbgrader course in base/: source/ from the repo's solutions, the gradebook, submitted/."""
    shutil.copytree(common.REPO / "solutions" / ASSIGNMENT, base / "source" / ASSIGNMENT)
    shutil.copytree(submitted, base / "submitted")
    cmd = [common.VENV_BIN / "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
           f"--db=sqlite:///{base / 'gradebook.db'}", f"--CourseDirectory.root={base}", "--log-level=WARN"]
    wall, proc = common.timed_run(cmd, env=env, cwd=base, log=base / "generate_assignment.log")
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{common.tail(proc.stderr, 40)}")
    return wall


def run_nbgrader(base: Path, env: dict) -> tuple[float, dict]:
    """Plain serial `nbgrader autograde`; wall time and each student's autograded score."""
    cmd = [common.VENV_BIN / "nbgrader", "autograde", ASSIGNMENT, f"--db=sqlite:///{base / 'gradebook.db'}",
           f"--CourseDirectory.root={base}"]
    wall, proc = common.timed_run(cmd, env=env, cwd=base, log=base / "autograde.log")
    if proc.returncode != 0:
        print(f"  nbgrader autograde exited {proc.returncode}:\n{common.tail(proc.stderr, 20)}")
    scores = {}
    import warnings
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{base / 'gradebook.db'}") as gb:
        warnings.simplefilter("ignore")
        for sub in gb.assignment_submissions(ASSIGNMENT):
            nb = sub.notebooks[0]
            scores[sub.student.id] = round(sum(g.auto_score for g in nb.grades if g.auto_score is not None), 4)
    return wall, scores


# ---------------------------------------------------------------------------------------------
# Breakdown of one submission's time


def breakdown(sub: dict) -> dict[str, float]:
    """Seconds by part: sandbox + kernel start, setup cell, each hidden test cell, lesson cells, judge."""
    t = sub["timings"]
    cells = {int(k): v for k, v in (t.get("cells") or {}).items()}
    meta = sub["cells"]
    parts: dict[str, float] = {}
    exercises = set()
    try:
        from autograde.visible.lessons.accel_sgd import LESSON
        EXERCISES = LESSON.classes
        exercises = set(EXERCISES)
    except ImportError:
        pass

    def add(key, s):
        parts[key] = parts.get(key, 0.0) + s

    for i, s in cells.items():
        m = meta[i] if i < len(meta) else {"grade_id": None, "added": False}
        gid = m.get("grade_id") or ""
        if gid == "setup":
            add("setup cell: kernel imports (torch, miniai, datasets, ...)", s)
        elif gid == "data":
            add("data cell (64 images when grading)", s)
        elif gid.startswith("test_"):
            add(f"hidden test cell `{gid}`", s)
        elif gid.startswith("check_"):
            add("visible check cells (`check_*`)", s)
        elif gid in exercises:
            add("exercise answer cells (class definitions)", s)
        elif m.get("added"):
            add("cells the student added", s)
        else:
            add("lesson demonstration cells (training demos, plots)", s)
    add("sandbox + kernel start + nbclient (run - sum of cells)", max(0.0, t.get("run", 0.0) - sum(cells.values())))
    add("judge: trusted comparison", t.get("judge", 0.0))
    return parts


def demo_cells(sub: dict, top: int = 4) -> list[tuple[str, float]]:
    cells = {int(k): v for k, v in (sub["timings"].get("cells") or {}).items()}
    rows = []
    for i, s in cells.items():
        m = sub["cells"][i] if i < len(sub["cells"]) else {}
        if not m.get("grade_id") and not m.get("added"):
            rows.append((f"#{i + 1} `{m.get('first', '')[:40]}`", s))
    return sorted(rows, key=lambda r: -r[1])[:top]


# ---------------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == CLI_FLAG:
        from autograde.cli import exit_fast
        exit_fast(instrumented_cli(sys.argv[2], sys.argv[3:]))  # ends as the console script does
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a class of 4, one warm single run")
    p.add_argument("--class-size", type=int, help="submissions in the class (default 20; 4 with --quick)")
    p.add_argument("--repeats", type=int, help="warm single-submission runs, median reported (default 3; 1 with --quick)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir, removed)")
    p.add_argument("--no-baseline", action="store_true", help="skip plain nbgrader autograde")
    common.add_markdown_arg(p)
    args = p.parse_args()
    size = args.class_size or (4 if args.quick else 20)
    repeats = args.repeats or (1 if args.quick else 3)
    common.set_offline()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-grading-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        return measure(work, size, repeats, not args.no_baseline, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, size: int, repeats: int, baseline: bool, args) -> int:
    print(common.machine_line())
    print(f"working in {work}")
    klass = work / "submitted"
    made = build_class(klass, size)
    single = work / "single"
    first_sid = made[0][0]
    shutil.copytree(klass / first_sid, single / first_sid)
    print(f"class of {len(made)}: " + ", ".join(f"{s} ({k})" for s, k in made))

    cold_env = common.bench_env(drop=("AUTOGRADE_CACHE", "AUTOGRADE_SOLUTIONS"))
    print("(a) one submission through the CLI")
    cold = run_autograde(single, work / "out-single-cold", 1, work, cold_env, "single-cold")
    cache = work / "out-single-cold" / "grader" / "cache"
    env = common.bench_env({"AUTOGRADE_CACHE": cache}, drop=("AUTOGRADE_SOLUTIONS",))
    warm = [run_autograde(single, work / f"out-single-{i}", 1, work, env, f"single-warm-{i}") for i in range(repeats)]
    print("(b) the class")
    j1 = run_autograde(klass, work / "out-class-j1", 1, work, env, "class-jobs1")
    j2 = run_autograde(klass, work / "out-class-j2", 2, work, env, "class-jobs2")
    again = run_autograde(klass, work / "out-class-j2", 2, work, env, "class-again", regrade=False)
    nbg = None
    if baseline:
        print("(c) plain nbgrader autograde, serial")
        base = work / "nbgrader"
        gen_s = setup_nbgrader(base, klass, env)
        nb_wall, nb_scores = run_nbgrader(base, env)
        nbg = {"generate": gen_s, "wall": nb_wall, "scores": nb_scores}
        print(f"  nbgrader: generate_assignment {gen_s:.1f} s, autograde {nb_wall:.1f} s "
              f"({nb_wall / len(made):.1f} s each)", flush=True)
    md = report(made, cold, warm, j1, j2, again, nbg, args)
    common.emit(md, args.markdown)
    return 0


def report(made, cold, warm, j1, j2, again, nbg, args) -> str:
    n = len(made)
    warm_wall = common.median([w["wall"] for w in warm])
    warm_mid = sorted(warm, key=lambda w: w["wall"])[(len(warm) - 1) // 2]  # the run with the median wall
    out = [f"Measured on: {common.machine_line()}.", ""]
    device = None
    try:
        device = common.device_description()
    except Exception:  # noqa: BLE001
        pass
    kernel_devices = sorted({d for r in (cold, *warm, j1) for d in r.get("kernel_devices", [])})
    sandboxed = {s.get("sandboxed") for s in j1["submissions"]}
    out.append(f"Class: {n} submissions built from the released lesson — "
               + ", ".join(f"{sum(k.startswith(x) for _, k in made)} {x}" for x in ("correct", "variant", "mistake", "unfilled"))
               + " (correct = the solution answers; variant = correct answers written differently, tests/corpus.py; "
                 "mistake = catalogued mistakes, autograde/mistakes.py; unfilled = the lesson as released). "
               + f"Kernels sandboxed with bubblewrap: {', '.join(map(str, sorted(sandboxed, key=str)))}. "
               + f"Device: the grader's `def_device` is **{device}**; the sandboxed kernels' hidden training runs "
                 f"reported **{', '.join(kernel_devices) or 'nothing (no run test produced data)'}**.")
    out.append("")
    # --- headline table
    rows = []
    target = 20.0

    def row(what, wall, count, note=""):
        per = wall / count
        rows.append([what, f"{wall:.1f}", count, f"{per:.1f}",
                     f"{nbg['wall'] / wall:.2f}x" if nbg and count == n else "–", note])

    row("(a) one submission, `autograde grade --jobs 1`, cold reference cache (new OUT)", cold["wall"], 1,
        "first grading into a new OUT also trains the solution's 5 short runs")
    row(f"(a) one submission, `autograde grade --jobs 1`, warm cache (median of {len(warm)}: "
        + ", ".join(f"{w['wall']:.1f}" for w in warm) + ")", warm_wall, 1,
        f"target <= {target:g} s: {'met' if warm_wall <= target else 'NOT met'}")
    row(f"(b) class of {n}, `autograde grade --jobs 1`", j1["wall"], n,
        f"target <= {target:g} s each: {'met' if j1['wall'] / n <= target else 'NOT met'}")
    row(f"(b) class of {n}, `autograde grade --jobs 2`", j2["wall"], n,
        f"{j1['wall'] / j2['wall']:.2f}x faster than --jobs 1")
    rows.append([f"(b) class of {n} graded into the same OUT again, nothing changed", f"{again['wall']:.1f}", n,
                 f"{again['wall'] / n:.1f}", "–",
                 f"earlier results reused ({len(again['submissions'])} graded again); `--regrade` grades all"])
    if nbg:
        rows.append([f"(c) baseline: class of {n}, plain serial `nbgrader autograde` (unsandboxed)",
                     f"{nbg['wall']:.1f}", n, f"{nbg['wall'] / n:.1f}", "1.00x",
                     f"plus `nbgrader generate_assignment` beforehand: {nbg['generate']:.1f} s (autograde's wall includes it)"])
    out.append(common.md_table(["run", "wall (s)", "submissions", "s / submission", "speed-up vs nbgrader", "note"],
                               rows, align="lrrrrl"))
    out.append("")
    full = [s for s in j1["submissions"] if s["student_id"].split("_", 1)[1] in ("correct", "variant")]
    ok_full = sum(s["auto_score"] == s["auto_max"] for s in full)
    out.append(f"Sanity: {ok_full} of {len(full)} correct submissions (solution and variants) got full autograded marks "
               f"in the --jobs 1 run; the scores at --jobs 2 are "
               f"{'identical' if _scores(j1) == _scores(j2) else 'DIFFERENT: ' + str(_diff(_scores(j1), _scores(j2)))}.")
    if nbg:
        same = sum(abs(nbg["scores"].get(s, -1) - v) < 1e-6 for s, v in _scores(j1).items())
        out.append(f" Plain nbgrader gives the same autograded total for {same} of {n} (nbgrader scores a test cell "
                   f"all or nothing, autograde gives partial credit per case, so mistakes can differ).")
    out.append("")
    # --- CLI phases
    out.append("### Where the wall time of `autograde grade` goes")
    out.append("")
    labels = ["process start (interpreter)", "import autograde.cli", "import grading modules", "bwrap self-test",
              "find submissions", "load the grading setup (solutions notebook -> canonical)",
              REFERENCE_PHASE, "grade_all (kernels + judge)",
              "write CSVs", "write executed notebooks", GRADEBOOK_PHASE,
              "gradebook: record scores", "feedback pages", "class report", "other (argument parsing, table, exit)"]
    runs = [("one, cold cache", cold), ("one, warm cache (the median run)", warm_mid), (f"class of {n}, jobs 1", j1),
            (f"class of {n}, jobs 2", j2)]
    prow = []
    for lab in labels:
        vals = []
        for _, r in runs:
            ph = dict(r["phases"])
            ph["process start (interpreter)"] = r["process_start"]
            ph["other (argument parsing, table, exit)"] = max(0.0, r["wall"] - r["process_start"] - r["timed_union_s"])
            vals.append(ph.get(lab))
        prow.append([lab, *[common.fmt_s(v, 2) if v is not None else "–" for v in vals]])
    prow.append(["**total wall**", *[f"**{r['wall']:.2f}**" for _, r in runs]])
    out.append(common.md_table(["phase (s)", *[name for name, _ in runs]], prow, align="l" + "r" * len(runs)))
    out.append("")
    out.append("(Phases marked ∥ run in threads beside `grade_all`: with one process grading, the judge waits "
               "for the reference data only if it is not ready when the first kernel ends; with --jobs > 1 the "
               "workers need it first. `other` is the wall time in no timed phase: argument parsing, printing "
               "the table, process exit.)")
    out.append("")
    # --- per-submission breakdown
    out.append("### One submission's grading, part by part (sorted by time)")
    out.append("")
    single_sub = warm_mid["submissions"][0]
    class_correct = [s for s in j1["submissions"] if s["student_id"].endswith("_correct")]
    b_single = breakdown(single_sub)
    b_class = {}
    for s in class_correct:
        for k, v in breakdown(s).items():
            b_class.setdefault(k, []).append(v)
    b_class_med = {k: common.median(v) for k, v in b_class.items()}
    keys = sorted(set(b_single) | set(b_class_med), key=lambda k: -max(b_class_med.get(k, 0), b_single.get(k, 0)))
    total_s = sum(b_single.values())
    total_c = sum(b_class_med.values())
    brow = [[k, common.fmt_s(b_single.get(k), 2), f"{100 * b_single.get(k, 0) / total_s:.0f}%",
             common.fmt_s(b_class_med.get(k), 2), f"{100 * b_class_med.get(k, 0) / total_c:.0f}%"] for k in keys]
    brow.append(["**sum** (grade_submission: run + judge)", f"**{total_s:.2f}**", "", f"**{total_c:.2f}**", ""])
    out.append(common.md_table(
        ["part", f"alone (`{single_sub['student_id']}`, fresh process) s", "share",
         f"in the class at --jobs 1, median of {len(class_correct)} correct", "share"],
        brow, align="lrrrr"))
    out.append("")
    demos = demo_cells(single_sub)
    if demos:
        out.append("Largest lesson demonstration cells (alone): " + "; ".join(f"{lab} {s:.2f} s" for lab, s in demos) + ".")
    per_status = {}
    for s in j1["submissions"]:
        per_status.setdefault(s["student_id"].split("_", 1)[1], []).append(
            s["timings"].get("run", 0) + s["timings"].get("judge", 0))
    out.append(" grade_submission time by kind of submission (median, --jobs 1): "
               + ", ".join(f"{k} {common.median(v):.1f} s" for k, v in per_status.items()) + ".")
    out.append("")
    return "\n".join(out)


def _scores(run) -> dict:
    return {s["student_id"]: s["auto_score"] for s in run["submissions"]}


def _diff(a: dict, b: dict) -> dict:
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}


if __name__ == "__main__":
    sys.exit(main())
