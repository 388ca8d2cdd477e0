"""The instructor's workflow end to end, with nbgrader's own commands and a temporary exchange.

An instructor's course folder (a git checkout of the course's files) releases the assignment; two
students fetch it, put their work in and submit (nbgrader's exchange takes an explicit --student,
so no OS users are needed); the instructor collects, runs `autograde grade` in the course folder,
looks at formgrader's API, grades a written answer by hand, rebuilds the pages with `autograde
feedback` and releases them; each student fetches their page. Two real gradings in all.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from autograde import paths

pytestmark = pytest.mark.slow  # grades a class, builds a venv or kills a grader: `make test-fast` leaves it out

ASSIGNMENT = paths.ASSIGNMENT
COURSE_ID = "accel_sgd_course"  # nbgrader_config.py
SAMPLES = paths.REPO_ROOT / "autograde" / "samples"
STUDENTS = ("alice", "bob")
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
ENV.pop("AUTOGRADE_CACHE", None)
ENV.pop("AUTOGRADE_SOLUTIONS", None)
HAND_COMMENT = "Good: decoupled decay does not pass through the adaptive denominator."
OVERRIDE = ("bob", "test_momentum_small", 1.5)  # an instructor's override of a test's score


def set_by_hand(course, sid, grade_id, score):
    """What formgrader's grade API does: the score, and needs_manual_grade cleared."""
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        grade = gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, sid)
        grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()


def needs_manual_grade(course, sid, grade_id):
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        return gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, sid).needs_manual_grade


def page_totals(page):
    """The feedback page's points table: label -> value."""
    table = page.split('<table class="totals">')[1].split("</table>")[0]
    return dict(re.findall(r'<t[dh]>([^<]+)</t[dh]><t[dh] class="num">([^<]+)</t[dh]>', table))


def table_columns(stdout, sid):
    """A student's line of the printed grade table: student, automatic, by hand, pending, total[, note]."""
    return next(re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.startswith(sid + " "))


def run(args, cwd, timeout=600):
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def nbgrader(*args, cwd, exchange):
    return run([sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}",
                f"--CourseDirectory.course_id={COURSE_ID}"], cwd)


def autograde(*args, cwd):
    return run([sys.executable, "-m", "autograde.cli", *args], cwd, timeout=900)


def git(*args, cwd):
    return run(["git", "-c", "user.name=instructor", "-c", "user.email=instructor@example.org", *args], cwd)


@pytest.fixture(scope="module")
def trip(tmp_path_factory):
    """Released, fetched, submitted, collected and graded; returns the folders and the grade output."""
    root = tmp_path_factory.mktemp("roundtrip")
    course, exchange = root / "course", root / "exchange"
    course.mkdir()
    exchange.mkdir()
    for name in ("nbgrader_config.py", ".gitignore"):
        shutil.copy(paths.REPO_ROOT / name, course / name)
    for folder in ("solutions", "lessons"):
        shutil.copytree(paths.REPO_ROOT / folder, course / folder)
    git("init", "-q", cwd=course)
    git("add", ".", cwd=course)
    git("commit", "-q", "-m", "course", cwd=course)

    released = autograde("release", cwd=course)
    nbgrader("release_assignment", ASSIGNMENT, cwd=course, exchange=exchange)
    for sid in STUDENTS:
        home = root / sid
        home.mkdir()
        nbgrader("fetch_assignment", ASSIGNMENT, cwd=home, exchange=exchange)
        shutil.copy(SAMPLES / sid / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        nbgrader("submit", ASSIGNMENT, f"--student={sid}", f"--Exchange.cache={root / ('cache-' + sid)}",
                 cwd=home, exchange=exchange)
    nbgrader("collect", ASSIGNMENT, cwd=course, exchange=exchange)
    graded = autograde("grade", cwd=course)
    return {"root": root, "course": course, "exchange": exchange, "released": released, "graded": graded}


@pytest.fixture(scope="module")
def delivered(trip):
    """After formgrader: a hand score and a comment in the gradebook, pages rebuilt, released and fetched."""
    from nbgrader.api import Gradebook
    course, exchange = trip["course"], trip["exchange"]
    set_by_hand(course, "alice", "written_wd_vs_l2", 2.0)
    set_by_hand(course, *OVERRIDE)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        gb.find_comment("written_wd_vs_l2", ASSIGNMENT, ASSIGNMENT, "alice").manual_comment = HAND_COMMENT
        gb.db.commit()
    rebuilt = autograde("feedback", cwd=course)
    nbgrader("release_feedback", ASSIGNMENT, cwd=course, exchange=exchange)
    pages = {}
    for sid in STUDENTS:
        home = trip["root"] / sid
        nbgrader("fetch_feedback", ASSIGNMENT, f"--student={sid}", f"--Exchange.cache={trip['root'] / ('cache-' + sid)}",
                 cwd=home, exchange=exchange)
        found = sorted((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        assert len(found) == 1, found
        pages[sid] = found[0].read_text()
    return {**trip, "rebuilt": rebuilt, "pages": pages}


def api_submissions(course):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    coursedir = CourseDirectory(root=str(course), course_id=COURSE_ID, source_directory="solutions",
                                release_directory="lessons")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {s["student"]: s for s in NbGraderAPI(coursedir=coursedir).get_submissions(ASSIGNMENT)}


def test_release_leaves_the_course_gradebook_ready(trip):
    from nbgrader.api import Gradebook
    assert f"sqlite:///{trip['course'] / 'gradebook.db'} holds {ASSIGNMENT}" in trip["released"].stdout
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{trip['course'] / 'gradebook.db'}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        notebook = gb.find_notebook(ASSIGNMENT, ASSIGNMENT)
        assert len(notebook.grade_cells) == 16 and notebook.max_score == 24


def test_grade_says_which_course_it_grades(trip):
    assert trip["graded"].stdout.startswith(f"course: {trip['course']} (settings: {trip['course'] / 'nbgrader_config.py'}; "
                                            f"solutions: {trip['course'] / 'solutions' / ASSIGNMENT / ASSIGNMENT}.ipynb)")


def test_formgrader_sees_both_submissions_autograded_with_the_grader_scores(trip):
    subs = api_submissions(trip["course"])
    grades = {r["student_id"]: float(r["total"]) for r in csv.DictReader(open(trip["course"] / "grader" / "grades.csv"))}
    assert set(subs) == set(STUDENTS)
    for sid in STUDENTS:
        assert subs[sid]["autograded"] and subs[sid]["timestamp"]
        assert subs[sid]["score"] == pytest.approx(grades[sid]) and subs[sid]["max_score"] == 24
    assert grades["alice"] == 20.0 and 0 < grades["bob"] < 20


def test_nbgrader_autograded_and_feedback_folders_hold_the_submission_files(trip):
    submitted = trip["course"] / "submitted" / "bob" / ASSIGNMENT
    for folder in ("autograded", "feedback"):
        for name in ("timestamp.txt", "submission_secret.txt"):
            assert (trip["course"] / folder / "bob" / ASSIGNMENT / name).read_text() == (submitted / name).read_text()


def test_nbgrader_export_has_each_submission_timestamp(trip, tmp_path):
    run([sys.executable, "-m", "nbgrader", "export", f"--to={tmp_path / 'grades.csv'}"], trip["course"])
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    stamp = (trip["course"] / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").read_text()
    assert rows["alice"]["timestamp"] and rows["alice"]["timestamp"][:19] == stamp[:19]
    assert rows["bob"]["timestamp"]


def test_a_hand_score_reaches_the_student_through_release_and_fetch_feedback(delivered):
    alice = delivered["pages"]["alice"]
    assert "2 / 2 points, graded by hand" in alice                # the written answer scored in formgrader
    assert page_totals(alice) == {"Automatic tests": "20 / 20", "By hand": "2 / 2",     # one answer pending
                                  "Pending, to be graded by hand": "2", "Total so far": "22 / 24"}
    assert HAND_COMMENT in alice and "Comment from your instructor" in alice
    assert "Recognised mistake" in delivered["pages"]["bob"]      # the grader's own page, not nbgrader's plain one
    assert "wrote 2 feedback page(s) from the gradebook" in delivered["rebuilt"].stdout


def test_the_table_grades_csv_the_page_and_nbgrader_export_agree(delivered, tmp_path):
    """After hand grading (alice's written answer, bob's override) and `autograde feedback`: the same
    automatic, by-hand, pending and total points everywhere, and the total is nbgrader's own."""
    from autograde.outputs.pages import fmt
    course = delivered["course"]
    run([sys.executable, "-m", "nbgrader", "export", f"--to={tmp_path / 'export.csv'}"], course)
    export = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "export.csv"))}
    ours = {r["student_id"]: r for r in csv.DictReader(open(course / "grader" / "grades.csv"))}
    def out_of(row, got, most):
        return f"{fmt(float(row[got]))} / {fmt(float(row[most]))}"
    assert [ours["alice"][k] for k in ("automatic", "automatic_max", "by_hand", "by_hand_max", "pending", "total",
                                       "max_score")] == ["20.0", "20.0", "2.0", "2.0", "2.0", "22.0", "24.0"]
    assert (float(ours["bob"]["by_hand"]), float(ours["bob"]["by_hand_max"])) == (1.5, 2.0)  # the override
    for sid in STUDENTS:
        row = ours[sid]
        assert float(export[sid]["raw_score"]) == pytest.approx(float(row["total"]))
        assert float(export[sid]["max_score"]) == float(row["max_score"]) == 24
        pending = float(row["pending"])
        assert page_totals(delivered["pages"][sid]) == {
            "Automatic tests": out_of(row, "automatic", "automatic_max"), "By hand": out_of(row, "by_hand", "by_hand_max"),
            "Pending, to be graded by hand": fmt(pending), "Total so far": out_of(row, "total", "max_score")}
        assert table_columns(delivered["rebuilt"].stdout, sid)[:5] == [
            sid, out_of(row, "automatic", "automatic_max"), out_of(row, "by_hand", "by_hand_max"), fmt(pending),
            out_of(row, "total", "max_score")]


def test_everything_the_workflow_wrote_in_the_course_is_ignored_by_git(delivered):
    status = git("status", "--porcelain", "--untracked-files=all", cwd=delivered["course"]).stdout
    assert [line for line in status.splitlines() if line.startswith("??")] == []
    ignored = git("status", "--porcelain", "--ignored", cwd=delivered["course"]).stdout.splitlines()
    assert {"!! autograded/", "!! feedback/", "!! gradebook.db", "!! grader/", "!! submitted/"} <= set(ignored)


def test_grading_again_keeps_hand_grades_whose_answer_is_unchanged_and_flags_the_changed(delivered):
    """bob's written answer is graded by hand, then he hands in a new version of it; alice hands in
    nothing new. Runs last: it grades the class again."""
    import nbformat
    course = delivered["course"]
    set_by_hand(course, "bob", "written_wd_vs_l2", 1.0)
    path = course / "submitted" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "written_wd_vs_l2")
    answer.source += "\n\nAdded after the deadline."
    nbformat.write(nb, path)
    graded = autograde("grade", cwd=course)
    assert "1 submission(s) unchanged" in graded.stderr
    assert not needs_manual_grade(course, "alice", "written_wd_vs_l2")     # reused, unchanged: stays graded
    assert not needs_manual_grade(course, *OVERRIDE[:2])                     # bob's code and its test: unchanged
    assert needs_manual_grade(course, "bob", "written_wd_vs_l2")            # changed: a person looks again
    assert ("bob: written_wd_vs_l2 flagged for grading by hand again: the written answer changed since the last "
            "grading") in graded.stderr
    report = (course / "grader" / "report.html").read_text()
    flagged = report.split("Hand grades to look at again")[1].split("</table>")[0]
    assert "bob" in flagged and "written_wd_vs_l2" in flagged and "alice" not in flagged
