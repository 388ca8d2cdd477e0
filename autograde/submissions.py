"""Finding the class's submissions in nbgrader's SUBMITTED/{student}/{assignment}/ folders.

One notebook per student is graded, chosen by a rule the student can read on their page: the one
named like the assignment's notebook, else the newest. Nothing outside SUBMITTED is read (a
student folder that links elsewhere is skipped), and whatever is not graded is said, not dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAX_TIMESTAMP_BYTES = 200  # nbgrader writes "2026-12-01 10:00:00.123456 UTC"
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")  # written by submit, needed by release_feedback


@dataclass(frozen=True)
class Submission:
    student_id: str
    assignment_id: str
    path: Path            # the notebook graded
    note: str = ""        # why this notebook, when the folder held several (shown to the student)
    timestamp: str | None = None  # timestamp.txt as nbgrader's submit wrote it

    @property
    def folder(self) -> Path:
        return self.path.parent


@dataclass
class Found:
    submissions: list[Submission] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    other_assignments: list[str] = field(default_factory=list)


def _inside(path: Path, root: Path) -> bool:
    return path.resolve() == root or root in path.resolve().parents


def read_timestamp(folder: Path) -> str | None:
    """timestamp.txt's text, when it is a plain small file."""
    path = folder / "timestamp.txt"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_TIMESTAMP_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def choose_notebook(notebooks: list[Path], notebook_id: str) -> tuple[Path, str]:
    """(the notebook to grade, a note for the student when there was a choice)."""
    if len(notebooks) == 1:
        return notebooks[0], ""
    names = ", ".join(p.name for p in notebooks)
    named = [p for p in notebooks if p.name == f"{notebook_id}.ipynb"]
    if named:
        return named[0], (f"Your submission held {len(notebooks)} notebooks ({names}); {named[0].name} was "
                          f"graded, the one named like the assignment's notebook.")
    newest = max(notebooks, key=lambda p: (p.stat().st_mtime, p.name))
    return newest, (f"Your submission held {len(notebooks)} notebooks ({names}) and none is named "
                    f"{notebook_id}.ipynb; {newest.name} was graded, the newest.")


def find(submitted: Path, assignment_id: str, notebook_id: str) -> Found:
    """Every student's submission for assignment_id, with what was skipped and why."""
    root = Path(submitted).resolve()
    found = Found()
    others: set[str] = set()
    for entry in sorted(Path(submitted).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.suffix == ".ipynb" and entry.is_file():
            found.warnings.append(f"{entry} is directly under {submitted}, not in a student's folder: not graded "
                                  f"(nbgrader's layout is {{student}}/{assignment_id}/{notebook_id}.ipynb)")
            continue
        if not entry.is_dir():
            continue
        if not _inside(entry, root):
            found.warnings.append(f"skipped {entry.name}: its folder is a link to {entry.resolve()}, "
                                  f"outside {submitted}")
            continue
        for adir in sorted(p for p in entry.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if adir.name != assignment_id:
                others.add(adir.name)
                continue
            if not _inside(adir, root):
                found.warnings.append(f"skipped {entry.name}: {adir} links outside {submitted}")
                continue
            notebooks = sorted(p for p in adir.glob("*.ipynb") if p.is_file() and _inside(p, root))
            if not notebooks:
                found.warnings.append(f"{entry.name}: no notebook in {adir}")
                continue
            path, note = choose_notebook(notebooks, notebook_id)
            found.submissions.append(Submission(entry.name, assignment_id, path, note, read_timestamp(adir)))
    found.other_assignments = sorted(others)
    return found


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return f"<unreadable: {e}>"
