"""Which of the course's files other accounts on this machine can reach, and the command that closes each.

On a shared hub the course folder sits on the same machine as the students' accounts, and with the
usual umask (022) everything in it is world-readable: the solutions, the gradebook, every student's
feedback page; `nbgrader collect` even leaves each submitted/{student}/{assignment} folder 0777.
Course staff are the folder's owner and its group; every other account is "others", and what others
can reach is read from the permission bits alone (ACLs are not consulted), from the course folder down:
a file is within their reach when every folder between the course folder and it lets them pass (x).
Folders above the course folder are not counted, so a course that is closed only by its parent
(a 0700 home) is still reported: that parent is not the course's to keep closed.
Students never need the course folder: nbgrader's exchange hands out the lesson and returns feedback.
"""
from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from autograde.course import CourseFolder


@dataclass(frozen=True)
class Exposure:
    """Something of the course that other accounts can read or change."""
    what: str        # "the solutions (solutions/)"
    path: Path
    mode: int        # the permission bits of `example` (or of path)
    writable: bool   # others can also create, delete or change files there
    fix: str         # the shell command that closes it
    count: int = 1   # for a walk (submitted/): how many folders or files are open
    example: Path | None = None

    def describe(self) -> str:
        verb = "read and changed" if self.writable else "read"
        where = self.example or self.path
        many = f" ({self.count} open, e.g. {where})" if self.count > 1 or where != self.path else ""
        return f"{self.what} can be {verb} by other accounts{many}: mode {self.mode & 0o777:04o}"


def others(path: Path, root: Path, follow: bool = True) -> tuple[bool, bool] | None:
    """(can read, can write) for accounts that are neither the owner nor in the group; None when path is
    missing or out of their reach (a folder between `root` and it shuts them out). A folder counts as
    readable when they may list it or pass through it (the notebooks' names are known)."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    path, root = Path(path).absolute(), Path(root).absolute()
    if path != root:
        if root not in path.parents:
            chain = [path.parent]  # outside the course (a gradebook elsewhere): only its own folder
        else:
            chain = [root, *(p for p in path.parents if root in p.parents)]
        for folder in chain:
            try:
                if not os.stat(folder).st_mode & stat.S_IXOTH:
                    return None
            except OSError:
                return None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        read = bool(mode & (stat.S_IROTH | stat.S_IXOTH))
        write = bool(mode & stat.S_IWOTH and mode & stat.S_IXOTH)
    else:
        read, write = bool(mode & stat.S_IROTH), bool(mode & stat.S_IWOTH)
    return (read, write) if read or write else None


def _close(path: Path, recursive: bool) -> str:
    return f"chmod {'-R ' if recursive else ''}o-rwx {shlex.quote(str(path))}"


def _one(what: str, path: Path, root: Path, recursive: bool) -> list[Exposure]:
    found = others(path, root)
    if not found:
        return []
    return [Exposure(what, path, os.stat(path).st_mode, found[1], _close(path, recursive and path.is_dir()))]


def _walk(what: str, folder: Path, root: Path, depth: int = 2) -> list[Exposure]:
    """folder and what lies `depth` levels below it (submitted/{student}/{assignment}/), links not followed."""
    opened, level = [], [folder]  # a closed folder stops the walk: nothing below it is reachable
    for _ in range(depth + 1):
        below = []
        for p in level:
            found = others(p, root, follow=False)
            if found:
                opened.append((p, found[1]))
            if found and p.is_dir() and not p.is_symlink():
                try:
                    below += sorted(p.iterdir())
                except OSError:
                    pass
        level = below
    if not opened:
        return []
    written = [p for p, w in opened if w]
    example = (written or [p for p, _ in opened])[0]
    return [Exposure(what, folder, os.lstat(example).st_mode, bool(written), _close(folder, True),
                     len(opened), example)]


def exposures(course: CourseFolder) -> list[Exposure]:
    """Everything of the course that other accounts can reach: the course folder itself, its solutions,
    the submissions, the gradebook and what the grader writes there."""
    root, out = course.root, course.output()
    solutions = course.root / course.settings["source_directory"]
    found = _one("the course folder", root, root, recursive=False)
    found += _one(f"the solutions ({solutions.name}/)", solutions, root, recursive=True)
    found += _walk(f"the submissions ({course.submitted.name}/)", course.submitted, root)
    if out.db_path:
        found += _one("the gradebook", out.db_path, root, recursive=False)
    for folder, what in ((out.autograded, "the executed notebooks"), (out.feedback, "the feedback pages"),
                         (out.grader, "the grader's files (grades, report, caches)")):
        found += _one(f"{what} ({folder.name}/)", folder, root, recursive=True)
    return found


def solutions_exposed(course: CourseFolder) -> Exposure | None:
    """The solutions notebook itself, when other accounts can read it (for `autograde grade`'s warning)."""
    nb = course.solutions
    found = others(nb, course.root)
    if not found or not found[0]:
        return None
    top = course.root / course.settings["source_directory"]
    return Exposure("the solutions", nb, os.stat(nb).st_mode, found[1], _close(top, recursive=True))


def staff_only(db_url: str) -> None:
    """nbgrader creates the sqlite file with the umask's mode (world-readable by default): every student's
    scores and comments. Course staff only, as everything the grader writes (visible/atomic.py);
    sqlite gives its journal the database's mode. A file this user may not change is left as it is."""
    from autograde.visible.atomic import PRIVATE_FILE
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        try:
            path.chmod(path.stat().st_mode & PRIVATE_FILE)  # only takes bits away: a stricter mode stays
        except OSError:
            pass
