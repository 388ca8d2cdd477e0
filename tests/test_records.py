"""The graded-submission records: plain data across processes and files, and the two totals."""
import json

from autograde.outputs.records import (CellResult, SubmissionResult, Totals, WrittenPoints, auto_points,
                                       graded_by, points_with_written, totals, written_points)


def graded():
    """3 of 4 automatic points, and a 2-point written answer nobody has graded yet."""
    return SubmissionResult("ann", "accel_sgd", "accel_sgd", cells=[
        CellResult("test_sgd_small", 2.0, 2.0),
        CellResult("test_adam_small", 1.0, 2.0, "1 of 2 cases differ", mistake="adam_no_bias_correction",
                   details={"curve": {"yours": [2.3, float("inf")], "solution": [2.3, 1.9]}}),
        CellResult("written_wd_vs_l2", None, 2.0, "Graded by hand.", auto=False),
    ], executed={"cells": []}, timings={"run": 1.5}, sandboxed=True)


def test_a_result_survives_json_whole():
    r = graded()
    assert SubmissionResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_plain_data_holds_no_records():
    data = graded().to_dict()
    assert type(data) is dict and all(type(c) is dict for c in data["cells"])
    assert data["cells"][1]["mistake"] == "adam_no_bias_correction"


def test_keys_an_older_grader_wrote_are_left_out():
    data = {**graded().to_dict(), "retired_key": 1}
    data["cells"][0]["retired_cell_key"] = 2
    assert SubmissionResult.from_dict(data) == graded()


def test_the_two_totals():
    r = graded()
    assert (auto_points(r).score, auto_points(r).max) == (3.0, 4.0)
    assert (points_with_written(r).score, points_with_written(r).max) == (3.0, 6.0)
    marked = r.with_hand_grading({"written_wd_vs_l2": 1.5}, {})
    assert (auto_points(marked).score, auto_points(marked).max) == (3.0, 4.0)
    assert (points_with_written(marked).score, points_with_written(marked).max) == (4.5, 6.0)


def test_written_points_pending_and_graded():
    assert written_points(graded()) == WrittenPoints(0.0, 0.0, 2.0, 2.0)
    marked = graded().with_hand_grading({"written_wd_vs_l2": 1.5}, {})
    assert written_points(marked) == WrittenPoints(1.5, 2.0, 0.0, 2.0)


def test_an_override_keeps_the_automatic_score_beside_it():
    marked = graded().with_hand_grading({"test_adam_small": 2.0}, {"adam": "fine"})
    cell = marked.cells[1]
    assert (cell.score, cell.by_hand, cell.auto_score) == (2.0, True, 1.0)
    assert marked.comments == {"adam": "fine"} and graded().cells[1].score == 1.0


def test_totals_before_anyone_grades_by_hand():
    assert totals(graded()) == Totals(automatic=3.0, automatic_max=4.0, by_hand=0.0, by_hand_max=0.0,
                                      pending=2.0, total=3.0, max=6.0)


def test_an_override_counts_by_hand_not_as_automatic():
    marked = graded().with_hand_grading({"test_adam_small": 2.0, "written_wd_vs_l2": 1.5}, {})
    assert totals(marked) == Totals(automatic=2.0, automatic_max=2.0, by_hand=3.5, by_hand_max=4.0,
                                    pending=0.0, total=5.5, max=6.0)
    assert [graded_by(c) for c in marked.cells] == ["automatic", "by hand", "by hand"]


def test_when_it_was_graded_travels_with_the_result():
    r = graded()
    r.graded_at = "2026-12-01T08:00:05+00:00"
    assert SubmissionResult.from_dict(json.loads(json.dumps(r.to_dict()))).graded_at == "2026-12-01T08:00:05+00:00"
