"""A tiny lesson (exponential moving averages): the lesson registry's second, cheap example.

Two exercises, the second building on the first; one hidden test and one visible check each.
Its solutions notebook is tests/fixtures/ema_course/source/ema/ema.ipynb; its trusted half (one
catalogued mistake, one judge) is autograde/trusted/lessons/ema/.
"""
from __future__ import annotations

from autograde.visible.lesson import Exercise, Lesson, Test
from autograde.visible.lessons.ema import drivers

EXERCISES = (
    Exercise("ema", "EMA", drivers.public),
    Exercise("debiased_ema", "DebiasedEMA", drivers.public, builds_on=("ema",)),
)

TESTS = (
    Test("test_ema", "ema", ("EMA",), drivers.averages, "values", "EMA over a fixed series"),
    Test("test_debiased_ema", "debiased_ema", ("DebiasedEMA",), drivers.averages, "values",
         "DebiasedEMA over a fixed series"),
)

LESSON = Lesson("ema", EXERCISES, TESTS, exercise_imports="import math\n")
