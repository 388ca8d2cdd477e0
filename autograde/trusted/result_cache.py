"""Grading results kept on disk, so that grading a class again grades only what changed.

A result is reused only when everything it depends on is the same: the notebook's bytes and the
student id, the course (canonical notebook, solution sources, limits), the grader's and miniai's
code, the versions of the packages that run and judge it, and the machine's kind (sandbox or not,
GPU device nodes). Results whose outcome depended on timing (a time limit, a cell timeout) or on
luck (a dead kernel, a grader failure) are never kept: grading again gives them a fresh run.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path

import platformdirs

from autograde.running import sandbox
from autograde.visible.atomic import make_dirs, write_atomic
from autograde.outputs.records import SubmissionResult

# autograde/ and miniai/
PACKAGE_DIRS = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "miniai")
VERSIONED = ("torch", "numpy", "nbgrader", "nbclient", "nbformat", "ipykernel", "jupyter_client")
REUSABLE_STATUSES = ("ok", "unreadable")


ENV = "AUTOGRADE_CACHE"  # a person's choice of folder where the grader names none
_folder: ContextVar[Path | None] = ContextVar("autograde_cache", default=None)


@contextmanager
def using(folder: Path) -> Iterator[Path]:
    """Within this block the cache is this folder (a course's OUT/grader/cache/)."""
    token = _folder.set(Path(folder))
    try:
        yield Path(folder)
    finally:
        _folder.reset(token)


def cache_dir() -> Path:
    """Where the grader keeps what it can reuse: the reference runs and, under results/, the results.
    The folder `using` names, else AUTOGRADE_CACHE, else the user's cache folder."""
    named = _folder.get()
    return named if named is not None else default_cache_dir()


def default_cache_dir() -> Path:
    return Path(os.environ.get(ENV) or platformdirs.user_cache_path("autograde"))


def _code_digest() -> str:
    """The grader's and miniai's sources and data (not the sample class)."""
    h = hashlib.sha256()
    for root in PACKAGE_DIRS:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json") and "samples" not in path.parts and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def installed_versions(names) -> dict[str, str | None]:
    """Each package's installed version (None when it is not installed)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def grader_fingerprint() -> dict:
    return {"code": _code_digest(), "python": sys.version, "packages": installed_versions(VERSIONED),
            "sandboxed": sandbox.bwrap_available(), "gpus": sandbox.gpu_devices()}


def _course_part(course) -> dict:
    """What of the course decides a result: not the worker's thread count nor the hidden paths."""
    return {k: getattr(course, k) for k in ("assignment_id", "notebook_id", "canonical", "solution_sources", "limits")}


# A hidden test that could not import the grader's own packages means the grader's setup was broken
# (seen: a checkout moved while it graded), not the student's work: such a result is never kept.
GRADER_FAULTS = ("No module named 'autograde", "No module named 'miniai")


def reusable(result: SubmissionResult) -> bool:
    grader_fault = any(f in str(c.message) for c in result.cells for f in GRADER_FAULTS)
    return result.status in REUSABLE_STATUSES and not result.timed_out_cells and not grader_fault


class ResultCache:
    """FOLDER/{key}.json for each result worth keeping."""

    def __init__(self, folder: Path, course):
        self.folder = Path(folder)
        self._base = json.dumps({"grader": grader_fingerprint(), "course": _course_part(course)}, sort_keys=True)

    def key(self, student_id: str, text: str) -> str:
        h = hashlib.sha256(self._base.encode())
        sid = student_id.encode("utf-8", "surrogatepass")  # any str, even one that is not valid UTF-8
        h.update(b"\0" + sid + b"\0" + text.encode("utf-8", "surrogateescape"))
        return h.hexdigest()

    def load(self, student_id: str, text: str) -> SubmissionResult | None:
        try:
            data = json.loads((self.folder / f"{self.key(student_id, text)}.json").read_text())
            result = SubmissionResult.from_dict(data)
        except (OSError, ValueError, TypeError, AttributeError):  # unreadable, or not a result
            return None
        return result if result.student_id == student_id else None

    def store(self, text: str, result: SubmissionResult) -> bool:
        if not reusable(result):
            return False
        return store_json(self.folder / f"{self.key(result.student_id, text)}.json", result.to_dict())


def store_json(path: Path, data) -> bool:
    """Write a cache entry whole or not at all (readers never see half a file); False if it cannot be
    written: a read-only cache only costs time."""
    try:
        make_dirs(path.parent)
        write_atomic(path, json.dumps(data))
    except OSError:
        return False
    return True
