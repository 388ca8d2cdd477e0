"""One grade whichever command runs: nbgrader's own commands and formgrader's buttons use the grader's engine.

A copy of the course (its nbgrader_config.py names autograde/nbgrader_engine.py's classes) grades two
sample students (bob: named mistakes and partial credit; frank: the untouched lesson, written answers
empty) with real commands, in this order: `nbgrader autograde accel_sgd`, then `autograde grade
--regrade` (both grade from scratch), then `nbgrader generate_feedback --force`, then a real formgrader
(`jupyter server` with nbgrader's extension) driven through its HTTP API: its Autograde action for each
student (the kept results are reused) and its Generate Feedback action, then `autograde feedback`.
"""
import html
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from autograde import paths

pytestmark = pytest.mark.slow

ASSIGNMENT = paths.ASSIGNMENT
COURSE_ID = "accel_sgd_course"  # nbgrader_config.py
SAMPLES = paths.REPO_ROOT / "autograde" / "samples"
STUDENTS = ("bob", "frank")
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
ENV.pop("AUTOGRADE_CACHE", None)
ENV.pop("AUTOGRADE_SOLUTIONS", None)


def run(args, cwd, timeout=900):
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def nbgrader(*args, cwd):
    return run([sys.executable, "-m", "nbgrader", *args], cwd)


def autograde(*args, cwd):
    return run([sys.executable, "-m", "autograde.cli", *args], cwd)


def gradebook_state(course: Path) -> dict:
    """student -> each graded cell's (auto_score, needs_manual_grade) and each cell's auto comment."""
    from nbgrader.api import Gradebook
    state = {}
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        for sid in STUDENTS:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, sid)
            state[sid] = {"grades": {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades},
                          "comments": {c.name: c.auto_comment for c in nb.comments}}
    return state


def pages(course: Path) -> dict:
    return {sid: (course / "feedback" / sid / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text() for sid in STUDENTS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def formgrader(course: Path, log: Path):
    """A real Jupyter server with nbgrader's formgrader, in the course folder; yields post(path) -> JSON."""
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
                                 "--ServerApp.port_retries=0", "--allow-root", f"--ServerApp.token={token}",
                                 f"--ServerApp.root_dir={course}"], cwd=course, env=ENV, stdout=out,
                                stderr=subprocess.STDOUT)

    def call(path: str, method: str = "POST", timeout: float = 900):
        request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None,
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert call("/formgrader/api/status", "GET", 10)["status"] is True
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(1)
        yield call
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    course = root / "course"
    course.mkdir()
    shutil.copy(paths.REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for folder in ("solutions", "lessons"):
        shutil.copytree(paths.REPO_ROOT / folder, course / folder)
    for sid in STUDENTS:
        shutil.copytree(SAMPLES / sid, course / "submitted" / sid)
    autograde("release", cwd=course)
    found = {}

    nbgrader("autograde", ASSIGNMENT, cwd=course)
    found["nbgrader"] = gradebook_state(course)
    found["autograded"] = {sid: nbformat.read(course / "autograded" / sid / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
                           for sid in STUDENTS}

    autograde("grade", "--regrade", cwd=course)
    found["autograde"] = gradebook_state(course)
    found["autograde_pages"] = pages(course)

    nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course)
    found["nbgrader_pages"] = pages(course)

    with formgrader(course, root / "formgrader.log") as post:
        found["formgrader_runs"] = [post(f"/formgrader/api/submission/{ASSIGNMENT}/{sid}/autograde")
                                    for sid in STUDENTS]
        found["formgrader"] = gradebook_state(course)
        found["formgrader_feedback"] = post(f"/formgrader/api/assignment/{ASSIGNMENT}/generate_feedback")
        found["formgrader_pages"] = pages(course)

    found["rebuilt"] = autograde("feedback", cwd=course)
    found["rebuilt_pages"] = pages(course)
    return found


def test_nbgrader_autograde_gives_every_graded_cell_the_score_autograde_grade_gives(graded):
    ours, theirs = graded["autograde"], graded["nbgrader"]
    assert {sid: s["grades"] for sid, s in theirs.items()} == {sid: s["grades"] for sid, s in ours.items()}
    bob = ours["bob"]["grades"]
    assert any(score % 1 for score, _ in bob.values() if score is not None)  # part of a cell's whole points
    assert bob["written_wd_vs_l2"] == (None, True)                               # written answers wait for a person


def test_nbgrader_autograde_writes_the_same_comments_naming_the_mistake(graded):
    ours, theirs = graded["autograde"], graded["nbgrader"]
    assert {sid: s["comments"] for sid, s in theirs.items()} == {sid: s["comments"] for sid, s in ours.items()}
    assert "eps" in ours["bob"]["comments"]["adam"] and ours["frank"]["comments"]["written_wd_vs_l2"] is None


def test_the_autograded_notebook_holds_each_score_as_nbgrader_reads_it(graded):
    from nbgrader.utils import determine_grade, is_grade, is_solution
    for sid, nb in graded["autograded"].items():
        tests = [c for c in nb.cells if is_grade(c) and not is_solution(c) and c.cell_type == "code"]
        assert len(tests) == 14
        read = {c.metadata.nbgrader.grade_id: determine_grade(c)[0] for c in tests}
        assert read == {gid: g[0] for gid, g in graded["nbgrader"][sid]["grades"].items() if gid in read}


def test_formgraders_autograde_action_gives_the_same_scores_and_comments(graded):
    assert [r["success"] for r in graded["formgrader_runs"]] == [True, True]
    assert graded["formgrader"] == graded["autograde"]
    assert all("reused" in r["log"] for r in graded["formgrader_runs"])  # the kept results, shared by both paths


def test_generate_feedback_from_nbgrader_and_formgrader_writes_the_graders_own_page(graded):
    assert graded["formgrader_feedback"]["success"] is True
    assert graded["nbgrader_pages"] == graded["autograde_pages"]
    assert graded["formgrader_pages"] == graded["autograde_pages"]
    assert graded["rebuilt_pages"] == graded["autograde_pages"]                # `autograde feedback` after formgrader
    assert "Recognised mistake" in graded["autograde_pages"]["bob"]


def test_no_page_shows_a_hidden_test(graded):
    solutions = nbformat.read(paths.REPO_ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    hidden = {line.strip() for c in solutions.cells
              if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
              for line in c.source.splitlines() if len(line.strip()) >= 12}
    assert len(hidden) >= 14
    for which in ("autograde_pages", "nbgrader_pages", "formgrader_pages"):
        for sid, page in graded[which].items():
            text = html.unescape(page)
            assert "BEGIN HIDDEN TESTS" not in text and "probe(" not in text
            assert not [line for line in hidden if line in text], (which, sid)


def test_the_course_config_puts_the_engine_in_nbgraders_pipeline():
    from nbgrader.converters import Autograde, GenerateFeedback
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(paths.REPO_ROOT)).load_config()
    assert Autograde(config=config).sanitize_preprocessors == ["autograde.nbgrader_engine.GradeSubmission"]
    assert Autograde(config=config).autograde_preprocessors == ["autograde.nbgrader_engine.RecordVerdicts"]
    feedback = GenerateFeedback(config=config)
    assert feedback.preprocessors == [] and feedback.exporter_class.__name__ == "FeedbackPage"
