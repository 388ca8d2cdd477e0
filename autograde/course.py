"""Which course is graded, and where nbgrader and the grader keep their files.

The course is the folder the command runs in (or the nearest folder above it) that holds an
`nbgrader_config.py`, or the one `--course` names: never the folder the package was installed
from. Its nbgrader settings (CourseDirectory: root, source, release, submitted, autograded and
feedback directories, db_url) decide the layout, so every nbgrader command (formgrader, export,
generate_feedback, release_feedback) finds what the grader wrote. The grader's own files (CSVs,
report, kept results) live in OUT/grader/, out of nbgrader's way.

A course says which lesson it grades, where its solutions are and where its cache is (`lesson_name`,
`solutions`, `Output.cache`), and grading gets them from here as arguments (trusted/grade.py
GradingSetup). A person may override each with AUTOGRADE_LESSON, AUTOGRADE_SOLUTIONS or
AUTOGRADE_CACHE: read here, never written by the grader, so one process can grade two courses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "nbgrader_config.py"
GRADER_DIR = "grader"  # OUT/grader/: grades.csv, cells.csv, report.html, results/, cache/
DEFAULTS = {"source_directory": "source", "release_directory": "release", "submitted_directory": "submitted",
            "autograded_directory": "autograded", "feedback_directory": "feedback", "course_id": "", "db_url": ""}


class CourseError(SystemExit):
    """A problem with the command's setting, said in one line (the CLI prints it and exits 2)."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message


@dataclass(frozen=True)
class CourseFolder:
    """The instructor's course folder on disk and the nbgrader settings the grader follows."""
    root: Path                 # nbgrader's CourseDirectory.root
    config: Path | None        # the nbgrader_config.py read (None: nbgrader's defaults)
    settings: dict

    @property
    def solutions(self) -> Path:
        """The lesson's source notebook, source/<lesson>/<lesson>.ipynb (AUTOGRADE_SOLUTIONS: another)."""
        a = self.lesson_name()
        return Path(os.environ.get("AUTOGRADE_SOLUTIONS") or
                    self.root / self.settings["source_directory"] / a / f"{a}.ipynb")

    def lesson_name(self) -> str:
        """The lesson this course grades: AUTOGRADE_LESSON, else the installed lesson whose source
        notebook the course holds when exactly one is, else the default lesson (visible/lesson.py)."""
        from autograde.visible import lesson as lessons
        if os.environ.get(lessons.ENV):
            return os.environ[lessons.ENV]
        source = self.root / self.settings["source_directory"]
        found = [n for n in lessons.installed() if (source / n / f"{n}.ipynb").is_file()]
        return found[0] if len(found) == 1 else lessons.default_name()

    @property
    def release_dir(self) -> Path:
        return self.root / self.settings["release_directory"]

    @property
    def submitted(self) -> Path:
        return self.root / self.settings["submitted_directory"]

    @property
    def course_id(self) -> str:
        return self.settings["course_id"]

    def output(self, out: Path | None = None) -> "Output":
        """Where grading writes: the course root (what nbgrader reads) unless OUT is given."""
        target = Path(out).resolve() if out else self.root
        db = self.settings["db_url"] if target == self.root and self.settings["db_url"] else ""
        return Output(target, target / self.settings["autograded_directory"],
                      target / self.settings["feedback_directory"],
                      db or f"sqlite:///{target / 'gradebook.db'}", target / GRADER_DIR)


@dataclass(frozen=True)
class Output:
    """nbgrader's autograded/, feedback/ and gradebook, and the grader's own folder."""
    root: Path
    autograded: Path
    feedback: Path
    db_url: str
    grader: Path

    @property
    def cache(self) -> Path:
        """The reference runs and, under results/, the kept results: OUT/grader/cache/ (AUTOGRADE_CACHE:
        another folder)."""
        return Path(os.environ.get("AUTOGRADE_CACHE") or self.grader / "cache")

    @property
    def db_path(self) -> Path | None:
        return Path(self.db_url.removeprefix("sqlite:///")) if self.db_url.startswith("sqlite:///") else None


def find_course(course: Path | str | None = None, cwd: Path | None = None) -> CourseFolder:
    """The course named by --course, else the nearest folder from cwd upwards with nbgrader_config.py."""
    if course is not None:
        folder = Path(course).resolve()
        if not folder.is_dir():
            raise CourseError(f"--course {course}: no such folder")
        return load(folder)
    here = Path(cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return load(folder)
    raise CourseError(f"no {CONFIG_NAME} in {here} or above it: run autograde in the course folder "
                      f"or name it with --course DIR")


def load(folder: Path) -> CourseFolder:
    """Read the folder's nbgrader_config.py (CourseDirectory settings only; nothing else runs)."""
    from traitlets.config.loader import PyFileConfigLoader
    folder = Path(folder).resolve()
    settings = dict(DEFAULTS)
    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        return CourseFolder(folder, None, settings)
    try:
        config = PyFileConfigLoader(CONFIG_NAME, path=str(folder)).load_config()
    except Exception as e:  # noqa: BLE001 - a broken config file is the instructor's to fix: say where
        raise CourseError(f"{config_path}: could not be read ({type(e).__name__}: {e})") from None
    cd = config.get("CourseDirectory", {})
    settings.update({k: str(cd[k]) for k in DEFAULTS if k in cd})
    root = Path(str(cd["root"])) if "root" in cd else folder
    return CourseFolder((folder / root).resolve(), config_path, settings)


def describe(course: CourseFolder) -> str:
    """One line that says which course is graded, against which solutions."""
    settings = course.config or "nbgrader's defaults"
    return f"course: {course.root} (settings: {settings}; solutions: {course.solutions})"
