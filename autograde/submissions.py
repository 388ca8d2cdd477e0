"""Finding the class's submissions in nbgrader's SUBMITTED/{student}/{assignment}/ folders.

One notebook per student is graded, chosen by a rule the student can read on their page: the one
named like the assignment's notebook, else the newest. No link is followed anywhere under
SUBMITTED: a student folder, assignment folder or notebook that is a symbolic link would grade
someone else's work (another student's, or a file outside) under this student's name.

A student folder's name is the student id as nbgrader knows it: formgrader opens
submitted/{id}/, release_feedback reads feedback/{id}/, the student fetches with their login. So a
name is used as it is or not at all (a renamed id would return the page to nobody): `id_problem`
says why a name cannot be an id, and that folder is skipped with the reason. Whatever is not graded
is said, not dropped, and no folder, however named, stops the others.
"""
from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

MAX_TIMESTAMP_BYTES = 200  # nbgrader writes "2026-12-01 10:00:00.123456 UTC"
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")  # written by submit, needed by release_feedback
MAX_ID_CHARS = 128  # nbgrader's gradebook: Student.id is a String(128) (a MySQL or PostgreSQL gradebook enforces it)
MAX_ID_BYTES = 240  # a file name holds 255 bytes, and the outputs name files "{id}.json"
INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format (RTL override), surrogate, unassigned...


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


@dataclass(frozen=True)
class Skipped:
    """A folder under SUBMITTED that was not graded: its name as it can be printed, and why."""
    name: str
    reason: str


@dataclass
class Found:
    submissions: list[Submission] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    other_assignments: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # plain files beside the student folders (a README)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append(Skipped(shown(name), reason))
        self.warnings.append(f"skipped {shown(name)}: {reason}")


def _invisible(char: str) -> bool:
    category = unicodedata.category(char)
    return category in INVISIBLE or (category == "Zs" and char != " ")


def shown(name: str) -> str:
    """name on one printable line: bytes that are not UTF-8 as \\xNN, control and invisible characters
    (newline, tab, escape, the right-to-left override...) as Python writes them in a string, and a
    space that begins or ends it as \\x20, so that it is seen."""
    name = str(name)
    out = []
    for i, char in enumerate(name):
        if 0xDC80 <= ord(char) <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif _invisible(char):
            out.append(char.encode("unicode_escape").decode("ascii"))
        elif char == " " and i in (0, len(name) - 1):
            out.append("\\x20")
        else:
            out.append(char)
    return "".join(out)


def id_problem(name: str) -> str | None:
    """Why a folder name cannot be a student id, or None when it can. The one rule for every id the
    grader writes into a file name, the gradebook, a CSV or a page (feedback.safe_part applies it too).
    Beside nbgrader's own (ids are text, stripped of surrounding spaces, at most 128 characters), an
    id must be a single plain file name that nothing hides or disguises."""
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "its name is not valid UTF-8 (nbgrader's student ids are text): rename the folder to grade it"
    if not name:
        return "its name is empty"
    if name.startswith("."):
        return "its name starts with '.' (a hidden folder, which nbgrader's commands pass over too)"
    if name != name.strip():
        return ("its name begins or ends with white space, which nbgrader strips from a student id: the "
                "gradebook would hold another name")
    hidden = next((c for c in name if _invisible(c)), None)
    if hidden:
        return f"its name holds a control or invisible character (U+{ord(hidden):04X})"
    if "/" in name or "\\" in name:
        return "its name holds a path separator ('/' or '\\')"
    if len(name) > MAX_ID_CHARS:
        return (f"its name is {len(name)} characters long; nbgrader's gradebook holds student ids of at most "
                f"{MAX_ID_CHARS}")
    if size > MAX_ID_BYTES:
        return f"its name is {size} bytes long in UTF-8; files named after it would pass the file system's limit"
    return None


def _link_target(path: Path) -> str:
    try:
        return shown(str(path.resolve()))
    except (OSError, RuntimeError):  # a loop of links
        return shown(os.readlink(path))


def _link_reason(what: str, path: Path, root: Path, submitted: Path) -> str:
    """Why a link is not followed: the existing wording for one that leaves SUBMITTED, and for one that
    stays inside, whose work it would grade under this name."""
    target = _link_target(path)
    try:
        inside = path.resolve() == root or root in path.resolve().parents
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        return f"{what} is a link to {target}, outside {shown(str(submitted))}"
    return (f"{what} is a link to {target}, inside {shown(str(submitted))}: links are not followed (it would "
            f"grade that work as this student's)")


def read_timestamp(folder: Path) -> str | None:
    """timestamp.txt's text, when it is a plain small file."""
    path = folder / "timestamp.txt"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_TIMESTAMP_BYTES:
            return None
        return shown(path.read_text(encoding="utf-8", errors="replace").strip()) or None
    except OSError:
        return None


def choose_notebook(notebooks: list[Path], notebook_id: str) -> tuple[Path, str]:
    """(the notebook to grade, a note for the student when there was a choice)."""
    if len(notebooks) == 1:
        return notebooks[0], ""
    names = ", ".join(shown(p.name) for p in notebooks)
    named = [p for p in notebooks if p.name == f"{notebook_id}.ipynb"]
    if named:
        return named[0], (f"Your submission held {len(notebooks)} notebooks ({names}); {named[0].name} was "
                          f"graded, the one named like the assignment's notebook.")
    newest = max(notebooks, key=lambda p: (p.lstat().st_mtime, p.name))
    return newest, (f"Your submission held {len(notebooks)} notebooks ({names}) and none is named "
                    f"{notebook_id}.ipynb; {shown(newest.name)} was graded, the newest.")


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def find(submitted: Path, assignment_id: str, notebook_id: str) -> Found:
    """Every student's submission for assignment_id, with what was skipped and why. Links are never
    followed: a linked student folder, assignment folder or notebook is said and not graded."""
    root = Path(submitted).resolve()
    found = Found()
    others: set[str] = set()
    for entry in _entries(Path(submitted)):
        try:
            _entry(entry, assignment_id, notebook_id, Path(submitted), root, found, others)
        except OSError as e:  # unreadable, or gone while we looked: this folder only
            found.skip(entry.name, f"it cannot be read ({e.strerror or e})")
    found.other_assignments = sorted(others)
    return found


def _entry(entry: os.DirEntry, assignment_id: str, notebook_id: str, submitted: Path, root: Path, found: Found,
           others: set[str]) -> None:
    """One name directly under SUBMITTED: a student's folder, or what it is instead."""
    path = Path(entry.path)
    if entry.is_symlink():
        found.skip(entry.name, _link_reason("its folder", path, root, submitted))
    elif not entry.is_dir(follow_symlinks=False):
        if entry.name.endswith(".ipynb"):
            found.warnings.append(f"{shown(str(path))} is directly under {shown(str(submitted))}, not in a "
                                  f"student's folder: not graded (nbgrader's layout is "
                                  f"{{student}}/{assignment_id}/{notebook_id}.ipynb)")
        else:
            found.files.append(shown(entry.name))
    elif problem := id_problem(entry.name):
        found.skip(entry.name, problem)
    else:
        _student(path, assignment_id, notebook_id, submitted, root, found, others)


def _student(folder: Path, assignment_id: str, notebook_id: str, submitted: Path, root: Path, found: Found,
             others: set[str]) -> None:
    """One student's folder: their submission, or the reason there is none."""
    name = folder.name
    entries = _entries(folder)
    adir = next((e for e in entries if e.name == assignment_id), None)
    theirs = [e.name for e in entries if e.name != assignment_id and not e.name.startswith(".")
              and e.is_dir(follow_symlinks=False)]
    others.update(shown(n) for n in theirs)
    if adir is None:
        if not theirs:  # a student with other assignments only has simply not handed this one in
            found.skip(name, f"no {assignment_id} folder in it")
        return
    adir_path = Path(adir.path)
    if adir.is_symlink():
        found.skip(name, _link_reason(f"its {assignment_id} folder", adir_path, root, submitted))
        return
    if not adir.is_dir(follow_symlinks=False):
        found.skip(name, f"its {assignment_id} is a file, not a folder")
        return
    notebooks, links = [], []
    for e in _entries(adir_path):
        if not e.name.endswith(".ipynb"):
            continue
        if e.is_symlink():
            links.append(_link_reason(f"its notebook {shown(e.name)}", Path(e.path), root, submitted))
        elif e.is_file(follow_symlinks=False):
            notebooks.append(Path(e.path))
    if not notebooks:
        found.skip(name, "; ".join(links) if links else f"no notebook in its {assignment_id} folder")
        return
    for reason in links:
        found.warnings.append(f"{name}: not graded: {reason}")
    path, note = choose_notebook(notebooks, notebook_id)
    found.submissions.append(Submission(name, assignment_id, path, note, read_timestamp(adir_path)))


MAX_NOTEBOOK_BYTES = 64 * 2**20  # a larger notebook is not read: that student's result says so


def read_text(path: Path) -> str:
    """The notebook's text. The last part of the path is opened without following a link, so one put
    in the notebook's place after `find` looked is refused too (and a FIFO never blocks the grader)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return "<unreadable: not a regular file>"
            data = f.read(MAX_NOTEBOOK_BYTES + 1)  # never more than the cap, even of a file that grows
            if len(data) > MAX_NOTEBOOK_BYTES:
                return (f"<unreadable: the notebook file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB, the "
                        f"most a submission may be, so it was not read>")
            return data.decode("utf-8", errors="replace")
    except OSError as e:
        return f"<unreadable: {e.strerror or type(e).__name__}>"
