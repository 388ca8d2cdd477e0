"""Where things are: the repository (or the unpacked student kit), and the lesson's assignment name.

ASSIGNMENT is the current lesson's name (autograde/visible/lesson.py says how it is chosen: the
course's, while the grader works on a course; else AUTOGRADE_LESSON, else the one lesson released in
lessons/), read when asked.
"""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def __getattr__(name: str):
    if name == "ASSIGNMENT":
        from autograde.visible.lesson import current_name
        return current_name()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
