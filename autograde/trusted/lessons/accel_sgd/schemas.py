"""What the accelerated-SGD lesson's probes may write, per judge (built from trusted/schema.py's pieces)."""
from __future__ import annotations

from autograde.trusted.schema import (choice, either, fail, flag, kind_of, list_of, mapping, nullable, number, record,
                                      small_int, text)
from autograde.visible.lessons.accel_sgd.callbacks import HIDDEN_PLAN
from autograde.visible.lessons.accel_sgd.optimizers import hidden_opt_cases


def _step(v, path):
    """One scheduler step as the drivers log it: [epoch, batch, training]."""
    if not isinstance(v, list) or len(v) != 3:
        fail(path, f"is {kind_of(v)}, expected [epoch, batch, training]")
    return [small_int(v[0], f"{path}[0]"), small_int(v[1], f"{path}[1]"), flag(v[2], f"{path}[2]")]


_ERROR = record({"error": text})
_FLOATS = list_of(number)


def _fits(fit: dict):
    """{fit1: ..., fit2: ...}: one record per fit of the plan, or the driver's error."""
    return either(_ERROR, mapping(record(fit), keys={f"fit{i + 1}" for i in range(len(HIDDEN_PLAN[2]))}))


_RUN_FIELDS = {"losses": _FLOATS, "valid_loss": nullable(number), "accuracy": number, "seed": small_int,
               "device": text}
_TRAJ = either(_ERROR, record({"traj": list_of(list_of(number, 1_000), 1_000)}))
_SCHEMAS = {
    "run": either(_ERROR, record(_RUN_FIELDS)),
    "onecycle": either(_ERROR, record({**_RUN_FIELDS, "recs": mapping(_FLOATS)})),
    "sched": _fits({"created": list_of(flag), "lrs": _FLOATS, "steps": list_of(_step)}),
    "has_learn": _fits({"during": list_of(flag), "after": choice("none", "missing", "learner", "other")}),
    "recorder": either(_ERROR, mapping(mapping(_FLOATS),
                                         keys={f"fit{i + 1}" for i in range(len(HIDDEN_PLAN[2]))})),
}


def optimizer(test):
    """Only this exercise's hidden cases, by name."""
    return record({"cases": mapping(_TRAJ, keys={c.name for c in hidden_opt_cases(test.exercise)})})


def run(test):
    return _SCHEMAS["run"]


def onecycle(test):
    return _SCHEMAS["onecycle"]


def sched(test):
    return _SCHEMAS["sched"]


def has_learn(test):
    return _SCHEMAS["has_learn"]


def recorder(test):
    return _SCHEMAS["recorder"]
