"""The `autograde` command: release, grade, check, demo."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autograde import paths

SAMPLES_DIR = Path(__file__).with_name("samples")


def _offline_defaults() -> None:
    """Grading never needs the hub; without these, datasets retries an unreachable hub for tens of seconds."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@contextmanager
def _course(args) -> Iterator:
    """The course the command works on; within the block, its lesson is the current one (passed on to
    grading workers in their GradingSetup, never through the environment)."""
    from autograde.course import describe, find_course
    from autograde.visible import lesson as lessons
    course = find_course(getattr(args, "course", None))
    print(describe(course))
    with lessons.chosen(course.lesson_name()):
        yield course


def cmd_release(args) -> int:
    from autograde.trusted.release import release
    with _course(args) as course:
        for path in release(course):
            print(f"wrote {path}")
        print(f"gradebook: {course.output().db_url} holds {paths.ASSIGNMENT} (notebook and cells), as "
              f"formgrader and nbgrader's commands expect")
    return 0


def cmd_grade(args) -> int:
    _offline_defaults()
    from autograde.classgrade import grade_class
    from autograde.running.gpus import for_grading
    t0 = time.monotonic()
    with _course(args) as course:
        devices = for_grading(args.gpus, args.per_gpu, args.jobs, args.scheduler)  # before anything starts CUDA
        done = grade_class(course, Path(args.submitted) if args.submitted else None,
                           Path(args.out) if args.out else None, devices.jobs, args.scheduler, args.timeout,
                           args.cell_timeout, args.regrade, slots=devices.slots)
        _print_table(done.with_hand or done.results, done.skipped, done.identical)
    out = done.output
    skipped = f" ({len(done.skipped)} folder(s) not graded: see above)" if done.skipped else ""
    print(f"graded {len(done.results)} submission(s){skipped} in {time.monotonic() - t0:.1f} s -> {out.root}/: "
          f"{out.autograded.name}/, {out.feedback.name}/, gradebook {out.db_url}; "
          f"grades.csv, cells.csv, report.html in {out.grader}/")
    return _grader_failures(done.results)


def cmd_doctor(args) -> int:
    from autograde.doctor import main as doctor
    return doctor(args.course)


def cmd_feedback(args) -> int:
    from autograde.classgrade import as_in_gradebook, rebuild_feedback
    from autograde.outputs.results import load_latest
    with _course(args) as course:
        out = course.output(Path(args.out) if args.out else None)
        pages = rebuild_feedback(course, out.root)
        _print_table(as_in_gradebook(load_latest(out.grader / "results"), course, out))
        root = "" if out.root == course.root else f" --CourseDirectory.root={out.root}"
        print(f"wrote {len(pages)} feedback page(s) from the gradebook (hand scores, overrides, comments) into "
              f"{out.feedback}/. Next: nbgrader release_feedback {paths.ASSIGNMENT}{root}")
    return 0


def _grader_failures(graded) -> int:
    """Exit status: 0 when every submission got a result (even a zero), 2 when the grader itself failed."""
    failed = [r.student_id for r in graded if r.status == "error"]
    if failed:
        print(f"ERROR: the grader could not run {len(failed)} submission(s): {', '.join(failed)}; "
              f"their rows say why. Fix the grader's set-up and grade again.", file=sys.stderr)
        return 2
    return 0


def _print_table(graded, skipped=(), identical=()) -> None:
    """One line a student, in the words every output uses (records.totals): automatic points, points
    given by hand, points pending (written answers not graded yet) and the total, as the gradebook has
    them, and a note; a folder that was not graded says why on its line. Then the notebooks more than
    one student handed in. Everything from a submission is printed on its own line (submissions.shown)."""
    from autograde.outputs.pages import fmt
    from autograde.outputs.records import totals
    from autograde.submissions import shown
    width = min(40, max([len("student")] + [len(shown(r.student_id)) for r in graded] +
                        [len(s.name) for s in skipped]))

    dash = "\u2013"

    def out_of(got, most):
        return f"{fmt(got)} / {fmt(most)}" if most else dash
    print(f"{'student':<{width}}  {'automatic':>11}  {'by hand':>9}  {'pending':>7}  {'total':>11}  note")
    for r in graded:
        t = totals(r)
        named = sorted({c.mistake for c in r.cells if c.mistake})
        note = r.message if r.status != "ok" else (", ".join(named) if named else r.note)
        print(f"{shown(r.student_id):<{width}}  {out_of(t.automatic, t.automatic_max):>11}  "
              f"{out_of(t.by_hand, t.by_hand_max):>9}  {fmt(t.pending) if t.pending else dash:>7}  "
              f"{out_of(t.total, t.max):>11}  {shown(note[:90])}")
    for s in skipped:
        print(f"{s.name:<{width}}  {'-':>11}  not graded: {s.reason}")
    if identical:
        print("handed in by more than one student (a hint to look at, not a verdict):")
    for g in identical:
        what = "the same notebook file" if g.same_file else "the same source in every answer cell"
        print(f"  {what}: {', '.join(shown(sid) for sid in g.students)}")


def cmd_check(args) -> int:
    _offline_defaults()
    from autograde.selfcheck import fresh_copy, report, self_check
    if args.fresh_copy:
        if args.notebook:
            raise SystemExit("autograde check: give a notebook to check, or --fresh-copy FOLDER, not both")
        try:
            target = fresh_copy(Path(args.fresh_copy))
        except FileExistsError as e:
            print(f"autograde check: {e}", file=sys.stderr)
            return 2
        print(f"wrote {target}: a clean copy of the lesson. Work in it; the self-check compares with the "
              f"lesson packed inside autograde, never with a file you edit.")
        return 0
    if not args.notebook:
        raise SystemExit("autograde check: which notebook? e.g. `autograde check work/accel_sgd.ipynb`")
    try:
        result = self_check(Path(args.notebook))
    except (OSError, ValueError) as e:
        print(f"autograde check: {e}", file=sys.stderr)
        return 2
    lines, status = report(result)
    print("\n".join(lines))
    return status


def cmd_kit(args) -> int:
    from autograde.kit import uncommitted_changes, write_kit
    dirty = uncommitted_changes()
    if dirty:
        print(f"WARNING: the kit packs the working tree, and these files it packs have uncommitted changes: "
              f"{', '.join(dirty[:8])}{' …' if len(dirty) > 8 else ''}. Commit them for a kit you can "
              f"reproduce.", file=sys.stderr)
    target = write_kit(Path(args.out))
    print(f"wrote {target}: the lesson, miniai and the self-check, without the solutions. Give students this, "
          f"not the repository.")
    return 0


def cmd_demo(args) -> int:
    _offline_defaults()
    from autograde.classgrade import grade_class
    from autograde.course import load
    from autograde.trusted.release import release
    out = Path(args.out)
    print("1. Releasing the lesson from solutions/ (nbgrader generate_assignment) ...")
    for path in release():
        print(f"   wrote {path.relative_to(paths.REPO_ROOT)}")
    print(f"2. Grading the sample class in {SAMPLES_DIR.relative_to(paths.REPO_ROOT)}/ ...")
    if out.exists():
        shutil.rmtree(out / "feedback", ignore_errors=True)
    t0 = time.monotonic()
    done = grade_class(load(paths.REPO_ROOT), SAMPLES_DIR, out, jobs=args.jobs)
    print(f"3. Grades ({time.monotonic() - t0:.1f} s):")
    _print_table(done.with_hand or done.results, done.skipped, done.identical)
    grader = done.output.grader
    print(f"Feedback pages: {out}/feedback/<student>/{paths.ASSIGNMENT}/{paths.ASSIGNMENT}.html")
    print(f"Class report:   {grader}/report.html    Gradebook: {out}/gradebook.db    "
          f"CSVs: {grader}/grades.csv, {grader}/cells.csv")
    return _grader_failures(done.results)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="autograde", description="Grade the accelerated-SGD lesson with nbgrader.")
    sub = p.add_subparsers(dest="cmd", required=True)
    course_help = "the course folder (default: the nearest folder from here upwards with nbgrader_config.py)"
    r = sub.add_parser("release", help="regenerate lessons/ (and the visible checks' expectations) from solutions/, "
                                       "and record the assignment in the course's gradebook.db")
    r.add_argument("--course", help=course_help)
    g = sub.add_parser("grade", help="grade nbgrader's submitted/{student}/{assignment}/{nb}.ipynb")
    g.add_argument("submitted", nargs="?", help="default: the course's submitted/ (where nbgrader collect puts them)")
    g.add_argument("--course", help=course_help)
    g.add_argument("--out", help="default: the course folder, where nbgrader's commands and formgrader look "
                                 "(autograded/, feedback/, gradebook.db; the grader's own files in grader/)")
    g.add_argument("--jobs", type=int, help="submissions graded at once on this machine (default: one per GPU "
                                            "times --per-gpu; without GPUs one per two cores)")
    g.add_argument("--gpus", help="GPUs to grade on, as nvidia-smi numbers them (e.g. 0,2), or 'none' for the CPU "
                                  "(default: CUDA_VISIBLE_DEVICES, else every GPU); each kernel sees only its own")
    g.add_argument("--per-gpu", type=int, help="submissions sharing one GPU at once, each capped at its share of "
                                               "the GPU's memory (default 1)")
    g.add_argument("--scheduler", help="address of a Dask scheduler to grade on (e.g. tcp://host:8786)")
    g.add_argument("--timeout", type=float, help="wall-clock seconds per submission (default 300)")
    g.add_argument("--cell-timeout", type=float, help="seconds per cell (default 60)")
    g.add_argument("--regrade", action="store_true",
                   help="grade every submission again, even those unchanged since the last grading into --out")
    c = sub.add_parser("check", help="run the visible checks on your notebook before you submit")
    c.add_argument("notebook", nargs="?", help="your notebook, e.g. work/accel_sgd.ipynb")
    c.add_argument("--fresh-copy", metavar="FOLDER",
                   help="instead: write a clean copy of the lesson into FOLDER (never overwrites) and stop")
    k = sub.add_parser("kit", help="pack what students get (lesson, miniai, self-check; no solutions) into a zip")
    k.add_argument("--out", metavar="FOLDER", default=str(paths.REPO_ROOT / "dist"),
                   help=f"folder to write {paths.ASSIGNMENT}-student.zip into (default: dist/)")
    f = sub.add_parser("feedback", help="rebuild the feedback pages from the gradebook after grading by hand in "
                                        "formgrader (then: nbgrader release_feedback)")
    f.add_argument("--course", help=course_help)
    f.add_argument("--out", help="where autograde grade wrote (default: the course folder)")
    d = sub.add_parser("demo", help="release the lesson and grade the bundled sample class")
    d.add_argument("--out", default=str(paths.REPO_ROOT / "out" / "demo"))
    d.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    dr = sub.add_parser("doctor", help="what grading will use here (sandbox, GPUs, data, packages, who else can "
                                       "read the course) and what is missing, each with the command that fixes it")
    dr.add_argument("--course", help=course_help)
    args = p.parse_args(argv)
    handler = {"release": cmd_release, "grade": cmd_grade, "check": cmd_check, "kit": cmd_kit,
               "demo": cmd_demo, "feedback": cmd_feedback, "doctor": cmd_doctor}[args.cmd]
    try:
        return handler(args)
    except KeyboardInterrupt as e:
        print(getattr(e, "message", "interrupted"), file=sys.stderr)
        return 130
    except SystemExit as e:  # course.CourseError and friends: the setting is wrong, said in one line
        message = getattr(e, "message", None) or (e.code if isinstance(e.code, str) else None)
        if message:
            print(f"autograde {args.cmd}: {message}", file=sys.stderr)
        return e.code if isinstance(e.code, int) else 2
    except ImportError:
        if not _is_student_kit():
            raise
        print(f"autograde {args.cmd} is for instructors and needs the course repository; this installation "
              f"is the student kit, which has only `autograde check`.", file=sys.stderr)
        return 2


def _is_student_kit() -> bool:
    """The student kit (autograde/kit.py) ships only what `autograde check` needs."""
    return not (Path(__file__).parent / "trusted").is_dir()


def run() -> None:
    """The console script."""
    exit_fast(main())


def exit_fast(code: int) -> None:
    """Every file is written and closed when main() returns: skip the interpreter's teardown of
    torch, pyarrow and friends, which every command would wait for (`time autograde doctor` shows it)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
