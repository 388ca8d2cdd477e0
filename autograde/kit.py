"""The student kit: what students get instead of this repository, which holds the solutions.

`autograde kit` packs the released lesson, the `miniai` library and just enough of `autograde`
for the visible checks and `autograde check` into one zip. Nothing that holds or derives the
solutions goes in: not `solutions/`, not the judge or the mistake catalogue (edits of the
solution text), not the sample class (alice's notebook is a full solution).
"""
from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

from autograde import paths
from autograde.visible import lesson as lessons
from autograde.visible.atomic import PUBLIC_FILE, write_atomic

# The kit is whole folders, so the trust line is the layout: visible/ (what a student's kernel sees)
# and running/ (how `autograde check` runs the lesson the grader's way), plus the modules that start
# `autograde check`. Nothing from trusted/ or outputs/ (tests/test_trust_line.py). Of visible/lessons/
# only the kit's own lesson goes in, whole.
STUDENT_PACKAGES = ("visible", "running")
ENTRY_MODULES = ("__init__", "paths", "cli", "selfcheck")


def kit_name() -> str:
    return f"{lessons.current_name()}-student"


def student_files(package_dir: Path = Path(__file__).parent, lesson: str | None = None) -> list[Path]:
    """The package's files that go into the kit (sources and data, no caches): of the lessons' folders,
    only `lesson`'s (default: the current lesson)."""
    lesson = lesson or lessons.current_name()
    lessons_dir = package_dir / "visible" / "lessons"

    def ships(p: Path) -> bool:
        if "__pycache__" in p.parts or p.suffix == ".pyc" or not p.is_file():
            return False
        inside = p.is_relative_to(lessons_dir) and p.parent != lessons_dir
        return not inside or p.is_relative_to(lessons_dir / lesson)
    found = [package_dir / f"{m}.py" for m in ENTRY_MODULES]
    for folder in STUDENT_PACKAGES:
        found += [p for p in sorted((package_dir / folder).rglob("*")) if ships(p)]
    return found


TOP_LEVEL = ("pyproject.toml", "environment.yml")
README_TEMPLATE = Path(__file__).with_name("kit_readme.md")
# Zip entries carry this date so that the same repository always gives the same bytes.
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def kit_files(root: Path = paths.REPO_ROOT) -> dict[str, Path | bytes]:
    """Path inside the kit -> the file (or bytes) it comes from."""
    lesson_name = lessons.current_name()
    lesson = Path("lessons") / lesson_name / f"{lesson_name}.ipynb"
    files: dict[str, Path | bytes] = {"README.md": README_TEMPLATE.read_bytes()}
    for name in TOP_LEVEL:
        files[name] = root / name
    files[lesson.as_posix()] = root / lesson
    # A second, read-only copy inside the package: what the self-check compares with (the student
    # edits the one in lessons/ or a fresh copy of it).
    files[f"autograde/lesson/{lesson_name}.ipynb"] = root / lesson
    for path in sorted((root / "miniai").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(root).as_posix()] = path
    for path in student_files(root / "autograde"):
        files[path.relative_to(root).as_posix()] = path
    missing = [str(p) for p in files.values() if isinstance(p, Path) and not p.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot build the student kit, missing: {', '.join(missing)} "
                                f"(run `autograde release` first)")
    return files


def uncommitted_changes(root: Path = paths.REPO_ROOT) -> list[str]:
    """The files the kit packs that differ from the last commit (empty outside a git checkout)."""
    packed = [p for p in kit_files(root).values() if isinstance(p, Path)] + [README_TEMPLATE]
    sources = sorted({str(p.relative_to(root)) for p in packed if p.is_relative_to(root)})
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--", *sources], cwd=root,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line[3:] for line in done.stdout.splitlines()] if done.returncode == 0 else []


def write_kit(out_dir: Path, root: Path = paths.REPO_ROOT) -> Path:
    """Write OUT_DIR/<lesson>-student.zip; entries unpack into one folder of that name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = kit_name()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, source in sorted(kit_files(root).items()):
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return write_atomic(out_dir / f"{folder}.zip", buf.getvalue(), mode=PUBLIC_FILE)  # handed to students
