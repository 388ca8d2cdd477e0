"""The accelerated-SGD lesson's trusted half: its mistake catalogue and its judges.

JUDGES maps the judge each test names in the lesson registry (visible/lessons/accel_sgd) to the
schema its probe data must have and the function that scores it.
"""
from __future__ import annotations

from functools import partial

from autograde.trusted.lessons import Judging
from autograde.trusted.lessons.accel_sgd import judges, schemas
from autograde.trusted.lessons.accel_sgd.mistakes import MISTAKES  # noqa: F401

JUDGES = {
    "optimizer": Judging(schemas.optimizer, judges.optimizer),
    "run": Judging(schemas.run, judges.run),
    "onecycle": Judging(schemas.onecycle, judges.onecycle),
    **{kind: Judging(schemas.sched, partial(judges.callback, kind))
       for kind in ("base_sched", "batch_sched", "epoch_sched")},
    "has_learn": Judging(schemas.has_learn, partial(judges.callback, "has_learn")),
    "recorder": Judging(schemas.recorder, partial(judges.callback, "recorder")),
}
