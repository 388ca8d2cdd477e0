"""The accelerated-SGD lesson's registry: its exercises, hidden tests and visible checks, in one place.

Which exercise builds on which lives here only (`builds_on`): the judge matches only an exercise's
own mistakes, and a test whose parents lost points is graded again over the solution's parents
(trusted/isolation.py), so a slip costs points only once. Each test names its driver (this
folder: it runs in the student's kernel too) and its judge (trusted/lessons/accel_sgd/judges.py).
A test's `what` is its title on the feedback page: messages name a test by it, never by its id.
Points stay where nbgrader keeps them, in the solutions notebook's cell metadata.
"""
from __future__ import annotations

from functools import partial

from autograde.visible.lesson import Exercise, Lesson, Test
from autograde.visible.lessons.accel_sgd import callbacks, optimizers, runs, wording
from autograde.visible.lessons.accel_sgd.guard import guarded

OPTIMIZERS = (("sgd", "SGD", ()), ("momentum", "Momentum", ("sgd",)), ("rmsprop", "RMSProp", ("sgd",)),
              ("adam", "Adam", ("sgd",)))


def _optimizer(grade_id: str, cls: str, builds_on: tuple) -> Exercise:
    judged_alone = partial(optimizers.judged_without_decay, grade_id) if builds_on else None
    return Exercise(grade_id, cls, optimizers.public_optimizer(grade_id), builds_on, judged_alone)


def _optimizer_tests(grade_id: str, cls: str) -> tuple:
    return (Test(f"test_{grade_id}_small", grade_id, (cls,), optimizers.hidden_optimizer(grade_id), "optimizer",
                 f"{cls} on small tensors"),
            Test(f"test_{grade_id}_run", grade_id, (cls,), partial(guarded, runs.run_data, exercise=grade_id),
                 "run", f"A short FashionMNIST run with {cls}", costly=True))


EXERCISES = (
    *(_optimizer(*o) for o in OPTIMIZERS),
    Exercise("base_sched_cb", "BaseSchedCB", callbacks.public_sched("base_sched")),
    Exercise("batch_sched_cb", "BatchSchedCB", callbacks.public_sched("batch_sched"), ("base_sched_cb",)),
    Exercise("has_learn_cb", "HasLearnCB", partial(guarded, callbacks.has_learn_data, plan=callbacks.PUBLIC_PLAN)),
    Exercise("recorder_cb", "RecorderCB", partial(guarded, callbacks.recorder_data, plan=callbacks.PUBLIC_PLAN)),
    Exercise("epoch_sched_cb", "EpochSchedCB", callbacks.public_sched("epoch_sched"), ("base_sched_cb",)),
)

TESTS = (
    *(t for grade_id, cls, _ in OPTIMIZERS for t in _optimizer_tests(grade_id, cls)),
    Test("test_base_sched_cb", "base_sched_cb", ("BaseSchedCB",), callbacks.hidden_sched("base_sched"),
         "base_sched", "BaseSchedCB driven by a real Learner"),
    Test("test_batch_sched_cb", "batch_sched_cb", ("BatchSchedCB",), callbacks.hidden_sched("batch_sched"),
         "batch_sched", "BatchSchedCB driven by a real Learner"),
    Test("test_has_learn_cb", "has_learn_cb", ("HasLearnCB",), partial(guarded, callbacks.has_learn_data),
         "has_learn", "HasLearnCB driven by a real Learner"),
    Test("test_recorder_cb", "recorder_cb", ("RecorderCB",), partial(guarded, callbacks.recorder_data),
         "recorder", "RecorderCB driven by a real Learner, over two fits"),
    Test("test_epoch_sched_cb", "epoch_sched_cb", ("EpochSchedCB",), callbacks.hidden_sched("epoch_sched"),
         "epoch_sched", "EpochSchedCB driven by a real Learner"),
    Test("test_batch_sched_cb_onecycle", "batch_sched_cb", ("BatchSchedCB", "RecorderCB"),
         partial(guarded, runs.onecycle_data), "onecycle",
         "A short 1cycle FashionMNIST run with BatchSchedCB and RecorderCB", costly=True),
)

# What the exercise cells need from the lesson's setup cell (the solution versions run without it).
EXERCISE_IMPORTS = """\
import torch
from torch import nn
import matplotlib.pyplot as plt
from miniai.learner import Callback
"""

WRITTEN = {
    "written_wd_vs_l2": "Written answer: weight decay and L2 regularisation",
    "written_adam_eps": "Written answer: Adam's eps",
}

LESSON = Lesson("accel_sgd", EXERCISES, TESTS, EXERCISE_IMPORTS, describe=wording.describe, written=WRITTEN)
