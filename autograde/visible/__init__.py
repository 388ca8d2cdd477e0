"""What a student may see: the lesson's `check(...)` cells, the drivers that turn a class into data,
and the comparisons both sides use.

This folder is the trust line. The student's kernel sees it (and autograde/__init__.py) and nothing
else of autograde; the student kit ships it. It holds no solution: the expected results of the
visible checks (lessons/<name>/expected.json) are data written at release; each lesson's registry
(lesson.py) says what its checks and hidden tests run. tests/test_trust_line.py keeps the
trusted package out of both the kernel and the kit.
"""
from autograde.visible.checks import RESULTS_MARK, CheckFailed, Outcome, check, print_results

__all__ = ["check", "print_results", "CheckFailed", "Outcome", "RESULTS_MARK"]
