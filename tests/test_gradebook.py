"""The gradebook in OUT: scores written where nbgrader's tools read them, and grading again never
loses what an instructor entered by hand (written answers graded in formgrader, overrides, comments)."""
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest

from autograde import paths
from autograde.outputs import gradebook
from autograde.outputs.records import CellResult, SubmissionResult
from autograde.trusted import solution as reference
from autograde.running.notebook import canonical_notebook, graded_cells

STUDENT = "ann"


def _result(auto_score: float, answers: dict[str, str] | None = None) -> SubmissionResult:
    """Every test at auto_score of its points; with answers (grade_id -> source), an executed notebook
    whose answer cells hold them."""
    canon = canonical_notebook(nbformat.read(reference.solutions_notebook(), as_version=4))
    cells = [CellResult(c["grade_id"], auto_score * c["points"] if c["auto"] else None, c["points"],
                        "" if auto_score == 1 else "differs", auto=c["auto"]) for c in graded_cells(canon)]
    executed = None
    if answers is not None:
        for cell in canon.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        executed = canon
    return SubmissionResult(STUDENT, paths.ASSIGNMENT, paths.ASSIGNMENT, cells=cells, executed=executed)


def _grades(db_url):
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        nb = gb.find_submission_notebook(paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT)
        grades = {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in nb.grades}
        comments = {c.name: c.manual_comment for c in nb.comments}
    return grades, comments


@pytest.fixture(scope="module")
def new_gradebook(tmp_path_factory) -> Path:
    """A gradebook as `gradebook.create` makes it (nbgrader's generate_assignment: seconds), made once."""
    out = tmp_path_factory.mktemp("out")
    gradebook.create(f"sqlite:///{out / 'gradebook.db'}")
    return out / "gradebook.db"


@pytest.fixture
def db_url(new_gradebook, tmp_path) -> str:
    """Each test's own copy of the new gradebook: what one test records, the next does not find."""
    shutil.copy(new_gradebook, tmp_path / "gradebook.db")
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def test_scores_are_recorded_and_written_answers_await_a_human(db_url):
    gradebook.record(db_url, [_result(1.0)])
    grades, _ = _grades(db_url)
    assert grades["test_sgd_small"] == (2.0, None, False)
    assert grades["written_wd_vs_l2"] == (None, None, True)


def test_grading_again_keeps_hand_grades_overrides_and_comments(db_url):
    from nbgrader.api import Gradebook
    gradebook.record(db_url, [_result(1.0)])
    with warnings.catch_warnings(), Gradebook(db_url) as gb:  # what formgrader writes
        warnings.simplefilter("ignore")
        gb.find_grade("written_wd_vs_l2", paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT).manual_score = 1.5
        gb.find_grade("test_adam_run", paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT).manual_score = 0.5
        gb.find_comment("adam", paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT).manual_comment = "see me"
        gb.db.commit()
    gradebook.record(db_url, [_result(0.5)])
    grades, comments = _grades(db_url)
    assert grades["written_wd_vs_l2"][1] == 1.5
    assert grades["test_adam_run"] == (0.5, 0.5, True)  # a hand override stays, flagged for review as nbgrader does
    assert grades["test_sgd_small"] == (1.0, None, False)  # the new automatic score
    assert comments["adam"] == "see me"


WRITTEN = {"written_wd_vs_l2": "Decoupled decay skips the gradient.", "adam": "class Adam(RMSProp): ..."}


def _grade_by_hand(db_url, grade_id, score):
    """What formgrader's grade API does: the score, and needs_manual_grade cleared."""
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        grade = gb.find_grade(grade_id, paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT)
        grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()


def test_a_hand_grade_stands_when_grading_again_finds_the_same_answer(db_url):
    first = _result(1.0, WRITTEN)
    gradebook.record(db_url, [first])
    _grade_by_hand(db_url, "written_wd_vs_l2", 1.5)
    _grade_by_hand(db_url, "test_adam_run", 0.5)
    flagged = gradebook.record(db_url, [_result(1.0, WRITTEN)], previous=[first])
    grades, _ = _grades(db_url)
    assert grades["written_wd_vs_l2"] == (None, 1.5, False)
    assert grades["test_adam_run"] == (1.0, 0.5, False)
    assert flagged == []


def test_a_hand_grade_is_flagged_again_when_its_answer_changed(db_url):
    first = _result(1.0, WRITTEN)
    gradebook.record(db_url, [first])
    _grade_by_hand(db_url, "written_wd_vs_l2", 1.5)
    _grade_by_hand(db_url, "written_adam_eps", 2.0)
    changed = _result(1.0, {**WRITTEN, "written_wd_vs_l2": "Decoupled decay skips the gradient, and Adam's scaling."})
    flagged = gradebook.record(db_url, [changed], previous=[first])
    grades, _ = _grades(db_url)
    assert grades["written_wd_vs_l2"] == (None, 1.5, True)    # the score stays, for the person to look at again
    assert grades["written_adam_eps"] == (None, 2.0, False)   # its answer did not change
    assert [str(f) for f in flagged] == [f"{STUDENT}: written_wd_vs_l2 flagged for grading by hand again: "
                                         f"the written answer changed since the last grading"]


def test_an_override_is_flagged_again_when_the_code_it_judged_changed(db_url):
    first = _result(1.0, WRITTEN)
    gradebook.record(db_url, [first])
    _grade_by_hand(db_url, "test_adam_run", 0.5)
    flagged = gradebook.record(db_url, [_result(1.0, {**WRITTEN, "adam": "class Adam(RMSProp): pass"})],
                               previous=[first])
    assert _grades(db_url)[0]["test_adam_run"] == (1.0, 0.5, True)
    assert [(f.grade_id, f.why) for f in flagged] == [("test_adam_run", "the code of adam changed since the last grading")]


def test_an_automatic_comment_goes_when_the_mistake_is_fixed(db_url):
    from nbgrader.api import Gradebook

    def auto_comment():
        with warnings.catch_warnings(), Gradebook(db_url) as gb:
            warnings.simplefilter("ignore")
            return gb.find_comment("adam", paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT).auto_comment
    gradebook.record(db_url, [_result(0.5)])
    assert "test_adam_small: differs" in auto_comment()
    gradebook.record(db_url, [_result(1.0)])
    assert auto_comment() is None


def test_the_submission_timestamp_is_what_nbgrader_submit_wrote(db_url):
    from nbgrader.api import Gradebook
    gradebook.record(db_url, [_result(1.0)], {STUDENT: "2026-11-30 09:15:02.250000 UTC"})
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        stamp = gb.find_submission(paths.ASSIGNMENT, STUDENT).timestamp
    assert stamp.isoformat() == "2026-11-30T09:15:02.250000"


def test_hand_grading_reads_back_what_formgrader_writes(db_url):
    from nbgrader.api import Gradebook
    gradebook.record(db_url, [_result(1.0)])
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        gb.find_grade("written_adam_eps", paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT).manual_score = 1.5
        gb.find_comment("written_adam_eps", paths.ASSIGNMENT, paths.ASSIGNMENT, STUDENT).manual_comment = \
            "Say why eps sits outside the root."
        gb.db.commit()
    hand = gradebook.hand_grading(db_url, [_result(1.0)])[STUDENT]
    assert hand.scores["written_adam_eps"] == 1.5
    assert hand.comments["written_adam_eps"] == "Say why eps sits outside the root."


def test_a_gradebook_that_knows_the_assignment_is_not_built_again(db_url):
    assert gradebook.has_assignment(db_url, paths.ASSIGNMENT, paths.ASSIGNMENT)
    assert not gradebook.has_assignment(db_url, "other_assignment", paths.ASSIGNMENT)
