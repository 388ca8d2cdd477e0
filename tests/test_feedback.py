"""The student feedback pages and the instructor report, on hand-made grading results.

The pages must never show hidden test source, must escape whatever a submission contains, and
must count scores and mistakes exactly; a real browser checks that the page renders at all."""
import copy
import math
import re
import shutil
import subprocess
from pathlib import Path

import markupsafe
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde.trusted import mistakes
from autograde.outputs.feedback import render_feedback, write_feedback
from autograde.outputs.records import CellResult, SubmissionResult
from autograde.outputs.report import mistake_counts, render_report, write_report

HIDDEN = "### BEGIN HIDDEN TESTS\nprobe('test_sgd_small', SGD)\n### END HIDDEN TESTS"
SGD_CODE = "class SGD:\n    def opt_step(self, p): p -= self.lr * p.grad\n"
EVIL_CODE = "class SGD:\n    pass  # <script>alert(1)</script>\n"
WRITTEN = "Decoupled decay shrinks the weights directly."
DEAD = "The kernel died while running cell 12 (a crash, or out of memory); later tests did not run."
SOL_CURVE = [2.3, 1.9, 1.5, 1.2, 1.0, 0.9]


def totals_of(page):
    """The page's points table: label -> value."""
    table = page.split('<table class="totals">')[1].split("</table>")[0]
    return dict(re.findall(r'<t[dh]>([^<]+)</t[dh]><t[dh] class="num">([^<]+)</t[dh]>', table))


def html_text(s):
    """How a plain string appears in the page once escaped (by the templates' autoescaping)."""
    return str(markupsafe.escape(s))


def nbg(grade_id, solution, grade, points=None):
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def executed(code=SGD_CODE, written=WRITTEN):
    """A tiny executed notebook: an answer cell, its hidden test cell and a written answer."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Accelerated SGD"),
        new_code_cell(code, metadata=nbg("sgd", True, False)),
        new_code_cell("# Hidden tests: SGD on small tensors\n" + HIDDEN,
                      metadata=nbg("test_sgd_small", False, True, 2)),
        new_markdown_cell(written, metadata=nbg("written_wd_vs_l2", True, True, 2)),
    ])
    return nbformat.from_dict(nb)  # a plain-dict-like NotebookNode, as the grader passes it


def cell(gid, score, max_score, message="", mistake=None, details=None, auto=True):
    return CellResult(gid, score, max_score, message, auto=auto, mistake=mistake, details=details or {})


def result(sid, cells, status="ok", message="", code=SGD_CODE, sandboxed=True):
    return SubmissionResult(sid, "accel_sgd", "accel_sgd", status=status, message=message, sandboxed=sandboxed,
                            executed=None if status == "unreadable" else executed(code),
                            timings={"run": 1.0, "judge": 0.1, "cells": {}}, cells=cells)


def correct(sid="ann"):
    return result(sid, [cell("test_sgd_small", 2.0, 2.0),
                        cell("test_sgd_run", 1.0, 1.0,
                             details={"curve": {"yours": SOL_CURVE, "solution": SOL_CURVE},
                                      "accuracy": {"yours": 0.8, "solution": 0.8}}),
                        cell("written_wd_vs_l2", None, 2.0, "Graded by hand.", auto=False),
                        cell("test_momentum_small", 2.0, 2.0)])


FORGOT = mistakes.BY_KEY["sgd_forgot_lr"]
FORGOT_DETAIL = "7 of 7 cases differ; first, case 'cold start' (seed 1101): after step 1, parameter 0: 0.83 vs 1.02."
FORGOT_MSG = f"Looks like: {FORGOT.name}. {FORGOT.hint} {FORGOT_DETAIL}"
RUN_MSG = "In a short FashionMNIST run your training loss leaves the solution's at batch 2."


def with_mistake(sid="ben"):
    diverged = [2.3, 5.0, 1e12, math.inf, math.nan, None]
    return result(sid, [cell("test_sgd_small", 0.2857, 2.0, FORGOT_MSG, mistake="sgd_forgot_lr"),
                        cell("test_sgd_run", 0.0, 1.0, RUN_MSG,
                             details={"curve": {"yours": diverged, "solution": SOL_CURVE},
                                      "accuracy": {"yours": math.nan, "solution": 0.8}}),
                        cell("written_wd_vs_l2", None, 2.0, "Graded by hand.", auto=False),
                        cell("test_momentum_small", 2.0, 2.0)])


def dead(sid="cat"):
    return result(sid, [cell("test_sgd_small", 2.0, 2.0), cell("test_sgd_run", 0.0, 1.0, DEAD),
                        cell("written_wd_vs_l2", None, 2.0, "Graded by hand.", auto=False),
                        cell("test_momentum_small", 0.0, 2.0, DEAD)], status="dead", message=DEAD)


def unreadable(sid="dan"):
    msg = "Your submission could not be graded: the file is not a readable Jupyter notebook."
    return result(sid, [cell("test_sgd_small", 0.0, 2.0, msg), cell("test_sgd_run", 0.0, 1.0, msg),
                        cell("written_wd_vs_l2", None, 2.0, msg, auto=False),
                        cell("test_momentum_small", 0.0, 2.0, msg)], status="unreadable", message=msg,
                  sandboxed=False)


def evil(sid="eve"):
    r = with_mistake(sid)
    r.executed = executed(EVIL_CODE)
    r.cells[3] = cell("test_momentum_small", 0.0, 2.0, "<script>alert(2)</script> raised",
                         mistake="momentum_undampened")
    return r


ALL = (correct, with_mistake, dead, unreadable, evil)


@pytest.mark.parametrize("make", ALL)
def test_hidden_tests_never_shown(make):
    page = render_feedback(make())
    assert "BEGIN HIDDEN TESTS" not in page and "probe(" not in page and "Hidden tests:" not in page


@pytest.mark.parametrize("make", ALL)
def test_page_does_not_change_the_result(make):
    r = make()
    before = copy.deepcopy(r)
    render_feedback(r)
    assert repr(r) == repr(before)


def test_correct_shows_total_code_and_pending_written_answer():
    page = render_feedback(correct())
    assert totals_of(page) == {"Automatic tests": "5 / 5", "Pending, to be graded by hand": "2",
                               "Total so far": "5 / 7"}
    assert "pending, graded by hand" in page
    assert WRITTEN in page and "graded by hand" in page
    assert "p -= self.lr * p.grad" in page      # the student's own code
    assert "SGD on small tensors" in page       # the test's description, from lessons.current().tests_by_id
    assert "\u2713" in page and "\u2717" not in page
    assert 'class="notice"' not in page               # no run-level notice


def test_named_mistake_message_and_curve():
    page = render_feedback(with_mistake())
    assert FORGOT.name in page and "Recognised mistake" in page
    assert html_text(FORGOT.hint) in page and html_text(FORGOT_DETAIL) in page and html_text(RUN_MSG) in page
    assert page.count("data:image/png;base64,") == 1   # one curve: the run test
    assert totals_of(page)["Automatic tests"] == "2.29 / 5"   # 0.2857 + 0 + 2
    assert "\u2717" in page and "\u25D0" in page       # not passed, and partly passed
    assert "not a number at 2 of 6" in page            # NaN and None are left out, and said so


def test_dead_kernel_notice():
    page = render_feedback(dead())
    assert "kernel stopped" in page and html_text(DEAD) in page
    assert "did not run (see the note at the top)" in page
    assert totals_of(page)["Automatic tests"] == "2 / 5"


def test_unreadable_has_no_code_and_says_why():
    page = render_feedback(unreadable())
    assert "could not be read" in page and totals_of(page)["Automatic tests"] == "0 / 5"
    assert "Your code" not in page
    assert "sandbox" not in page.lower()       # the sandbox warning is for the instructor only


def test_student_strings_are_escaped():
    page = render_feedback(evil())
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


HOSTILE_ID = "<img src=x onerror=alert(3)>"  # no slash: a valid folder name, so it reaches both pages


def hostile():
    """Markup in every string a student controls: id, code, written answer, and so the run's message."""
    r = evil(HOSTILE_ID)
    r.executed = executed(EVIL_CODE, written="<script>alert(5)</script> decay is not L2")
    r.status, r.message = "error", "<script>alert(4)</script> stopped the run"
    return r


@pytest.mark.parametrize("render", [render_feedback, lambda r: render_report([r, correct()])],
                         ids=["feedback", "report"])
def test_hostile_student_strings_are_escaped_on_both_pages(render):
    page = render(hostile())
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert html_text(HOSTILE_ID) in page
    assert html_text("<script>alert(4)</script> stopped the run") in page


def test_a_hostile_written_answer_is_escaped():
    page = render_feedback(hostile())
    assert html_text("<script>alert(5)</script> decay is not L2") in page


def test_write_feedback_path(tmp_path):
    path = write_feedback(correct("ann"), tmp_path)
    assert path == tmp_path / "feedback" / "ann" / "accel_sgd" / "accel_sgd.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_write_feedback_refuses_paths_outside(tmp_path):
    with pytest.raises(ValueError):
        write_feedback(correct("../../etc"), tmp_path)


def cohort():
    """ann correct, ben and eve with sgd_forgot_lr, eve also momentum_undampened, cat dead, dan unreadable."""
    return [correct(), with_mistake(), dead(), unreadable(), evil()]


def test_report_counts_mistakes_per_student():
    rs = cohort()
    rs[1].cells[1].mistake = "sgd_forgot_lr"   # a second test flags the same mistake: still one student
    assert mistake_counts(rs) == [("sgd_forgot_lr", 2, ["test_sgd_small", "test_sgd_run"]),
                                  ("momentum_undampened", 1, ["test_momentum_small"])]
    page = render_report(rs)
    assert page.index(FORGOT.name) < page.index(mistakes.BY_KEY["momentum_undampened"].name)
    assert html_text(FORGOT.hint) in page
    assert "2 / 5 (40%)" in page and "1 / 5 (20%)" in page


def test_report_pass_rates_and_scores():
    page = render_report(cohort())
    def row(gid):
        return page.split(f"<code>{gid}</code>")[1].split("</tr>")[0]
    # full marks on test_sgd_small: ann, cat; on test_sgd_run: ann; on test_momentum_small: ann, ben
    assert "2 / 5 (40%)" in row("test_sgd_small")
    assert "1 / 5 (20%)" in row("test_sgd_run")
    assert "2 / 5 (40%)" in row("test_momentum_small")
    # mean of test_sgd_small: (2 + 0.2857 + 2 + 0 + 0.2857) / 5 = 0.91428
    assert ">0.91<" in row("test_sgd_small")
    # exercise sgd (3 points) at full marks: ann only
    sgd_row = page.split("<td>sgd</td>")[1].split("</tr>")[0]
    assert "1 / 5 (20%)" in sgd_row
    # totals 5, 2.2857, 2, 0, 0.2857: mean 1.91, median 2
    assert "1.91 / 5" in page and "2 / 5</div>" in page
    assert page.count("data:image/png;base64,") == 1    # the histogram
    assert ">5</div><div class=\"muted\">students" in page


def test_report_lists_troubled_runs_sandbox_and_links():
    page = render_report(cohort())
    troubled = page.split("did not run cleanly")[1].split("<h2>")[0]
    assert "dead" in troubled and "unreadable" in troubled and "ann" not in troubled
    assert "without the sandbox" in page and "dan" in page.split("without the sandbox")[1].split("</p>")[0]
    for sid in ("ann", "ben", "cat", "dan", "eve"):
        assert f'href="feedback/{sid}/accel_sgd/accel_sgd.html"' in page
    assert "<script" not in page.lower()


def test_write_report_path(tmp_path):
    rs = cohort()
    path = write_report(rs, tmp_path)
    assert path == tmp_path / "report.html"
    for r in rs:
        written = write_feedback(r, tmp_path).relative_to(tmp_path).as_posix()
        assert written == f"feedback/{r.student_id}/accel_sgd/accel_sgd.html"


def test_report_of_nobody():
    assert "0</div>" in render_report([])


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")
def test_feedback_renders_in_a_real_browser(tmp_path):
    html_path = write_feedback(with_mistake(), tmp_path)
    png = tmp_path / "page.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,2000",
           f"file://{html_path}"]
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 20_000   # a blank 1200x2000 page compresses to a few KB
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


# --- after formgrader: the page shows what people entered in the gradebook ------------------------


def test_a_hand_graded_written_answer_counts_in_the_total():
    page = render_feedback(correct().with_hand_grading({"written_wd_vs_l2": 1.5}, {}))
    assert "1.5 / 2 points, graded by hand" in page
    assert totals_of(page) == {"Automatic tests": "5 / 5", "By hand": "1.5 / 2", "Total": "6.5 / 7"}


def test_an_override_replaces_the_automatic_score_and_says_so():
    page = render_feedback(with_mistake().with_hand_grading({"test_sgd_small": 2.0}, {}))
    assert "Score set by your instructor (the automatic test gave 0.29)." in page
    # the override counts by hand, not as an automatic test: 0 + 2 automatic, 2 by hand
    assert totals_of(page) == {"Automatic tests": "2 / 3", "By hand": "2 / 2",
                               "Pending, to be graded by hand": "2", "Total so far": "4 / 7"}


def test_instructor_comments_appear_escaped_in_their_section():
    comments = {"sgd": "Look at <lr> again.", "written_wd_vs_l2": "Nicely put."}
    page = render_feedback(correct().with_hand_grading({}, comments))
    assert page.count("Comment from your instructor") == 2
    assert "Look at &lt;lr&gt; again." in page
    assert page.index("Nicely put.") > page.index('id="written_wd_vs_l2"')


def test_hand_grading_leaves_the_result_itself_alone():
    r = correct()
    before = copy.deepcopy(r)
    r.with_hand_grading({"written_wd_vs_l2": 2.0}, {"sgd": "ok"})
    assert repr(r) == repr(before)


def test_the_page_says_which_notebook_was_graded():
    r = correct()
    r.submission_note = "Your submission held 2 notebooks (a.ipynb, b.ipynb); b.ipynb was graded."
    assert "Which notebook was graded" in render_feedback(r) and "b.ipynb was graded" in render_feedback(r)


# --- the overview, the cells an exercise uses, and the dates ---------------------------------------

CLIP = "def clip(x):\n    return max(-LIMIT, min(LIMIT, x))\n"
LIMIT = "LIMIT = 5.0\n"
PLOT = "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
SGD_WITH_HELPER = "class SGD:\n    def opt_step(self, p): p -= self.lr * clip(p.grad)\n"


def with_helpers(sid="fay"):
    """ann's results, with a notebook where SGD calls clip(), which reads LIMIT, from cells she added;
    a plotting cell she added is used by nothing."""
    r = correct(sid)
    nb = executed(SGD_WITH_HELPER)
    def added(src):
        return nbformat.from_dict(new_code_cell(src, metadata={"autograde": {"added": True}}))
    nb.cells[1:1] = [added(LIMIT), added(PLOT), added(CLIP)]
    r.executed = nb
    r.timestamp, r.graded_at = "2026-11-30 09:15:02.250000 UTC", "2026-12-01T08:00:05+00:00"
    return r


def test_your_code_shows_the_added_cells_the_class_uses():
    page = render_feedback(with_helpers())
    code = page.split("<summary>Your code</summary>")[1].split("</details>")[0]
    assert code.count("A cell you added, which this code uses:") == 2
    assert html_text(LIMIT) in code and html_text(CLIP) in code   # clip directly, LIMIT through clip
    assert "plt.plot" not in page                                  # an added cell the class does not use


def test_the_overview_lists_each_section_with_points_status_and_link():
    page = render_feedback(with_mistake().with_hand_grading({}, {}))
    overview = page.split('<table class="overview">')[1].split("</table>")[0]
    rows = [re.sub(r"<[^>]+>", " ", row).split() for row in overview.split("<tr>")[2:]]
    assert rows == [["Exercise", "1:", "SGD", "0.29", "/", "3", "\u25D0", "partly"],
                    ["Written", "answer:", "weight", "decay", "and", "L2", "regularisation", "\u2013", "/", "2",
                     "\u270E", "pending,", "graded", "by", "hand"],
                    ["Exercise", "2:", "Momentum", "2", "/", "2", "\u2713", "passed"]]
    for key in ("sgd", "written_wd_vs_l2", "momentum"):
        assert f'<a href="#{key}">' in overview and f'id="{key}"' in page


def test_the_page_says_when_the_notebook_was_submitted_and_graded():
    page = render_feedback(with_helpers())
    assert "Submitted 2026-11-30 09:15 UTC. Graded 2026-12-01 08:00 UTC." in page
    undated = correct()
    undated.graded_at = "2026-12-01T09:00:00+01:00"   # no timestamp.txt: only when it was graded
    assert '<p class="dates">Graded 2026-12-01 08:00 UTC.</p>' in render_feedback(undated)


def test_a_hand_score_flagged_again_says_so():
    flagged = render_feedback(correct().with_hand_grading({"written_wd_vs_l2": 1.5}, {}, {"written_wd_vs_l2"}))
    standing = render_feedback(correct().with_hand_grading({"written_wd_vs_l2": 1.5}, {}))
    note = "given by hand to an earlier version of your answer"
    assert note in flagged.split('id="written_wd_vs_l2"')[1] and note not in standing


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")
def test_the_browser_shows_the_overview_helper_cells_and_dates(tmp_path):
    """The page as chromium parsed it (its DOM), not as the template wrote it."""
    from html.parser import HTMLParser
    html_path = write_feedback(with_helpers(), tmp_path)
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", f"file://{html_path}"]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.links, self.stack, self.text = set(), [], [], {}

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            self.ids.add(attrs.get("id"))
            if tag == "a":
                self.links.append(attrs.get("href"))
            self.stack.append(attrs.get("class") or tag)

        def handle_endtag(self, tag):
            self.stack.pop()

        def handle_data(self, data):  # the text inside each element with a class, piece by piece
            for where in set(self.stack):
                self.text.setdefault(where, []).append(data)
    seen = Reader()
    seen.feed(dom)
    def pieces(where):
        return [p.strip() for p in seen.text[where] if p.strip()]
    assert seen.links == ["#sgd", "#written_wd_vs_l2", "#momentum"] and {"sgd", "written_wd_vs_l2", "momentum"} <= seen.ids
    assert pieces("overview") == ["section", "points", "status", "Exercise 1: SGD", "3 / 3", "\u2713 passed",
                                  "Written answer: weight decay and L2 regularisation", "\u2013 / 2",
                                  "\u270E pending, graded by hand", "Exercise 2: Momentum", "2 / 2", "\u2713 passed"]
    assert "".join(seen.text["helper"]) == LIMIT + CLIP
    assert pieces("dates") == ["Submitted 2026-11-30 09:15 UTC. Graded 2026-12-01 08:00 UTC."]
