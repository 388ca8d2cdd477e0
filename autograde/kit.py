"""The student kit: what students get instead of this repository, which holds the solutions.

`autograde kit` packs the released lesson, the `miniai` library and just enough of `autograde`
for the visible checks and `autograde check` into one zip. Nothing that holds or derives the
solutions goes in: not `solutions/`, not the judge or the mistake catalogue (edits of the
solution text), not the sample class (alice's notebook is a full solution).
"""
from __future__ import annotations

import ast
import subprocess
import zipfile
from pathlib import Path

from . import reference

KIT_NAME = f"{reference.ASSIGNMENT}-student"
# `autograde check` and the lesson's `check(...)` cells start here; the kit holds these modules and
# those they import at module level, and nothing else (cli.py imports instructor modules only
# inside the instructor commands).
ENTRY_MODULES = ("__init__", "cli", "selfcheck", "visible")


def _imported(package_dir: Path, module: str) -> set[str]:
    """The autograde modules this module imports at module level (not inside functions)."""
    tree = ast.parse((package_dir / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for top in tree.body:
        for node in ast.walk(top) if isinstance(top, (ast.If, ast.Try)) else [top]:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "autograde":
                parts = node.module.split(".")
                found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
    return {m for m in found if (package_dir / f"{m}.py").is_file()}


def student_modules(package_dir: Path = Path(__file__).parent) -> tuple[str, ...]:
    seen, todo = set(), list(ENTRY_MODULES)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imported(package_dir, module))
    return tuple(sorted(seen))


STUDENT_MODULES = student_modules()
STUDENT_DATA = ("visible_expected.json",)
TOP_LEVEL = ("pyproject.toml", "environment.yml")
README_TEMPLATE = Path(__file__).with_name("kit_readme.md")
# Zip entries carry this date so that the same repository always gives the same bytes.
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def kit_files(root: Path = reference.REPO_ROOT) -> dict[str, Path | bytes]:
    """Path inside the kit -> the file (or bytes) it comes from."""
    lesson = Path("lessons") / reference.ASSIGNMENT / f"{reference.ASSIGNMENT}.ipynb"
    files: dict[str, Path | bytes] = {"README.md": README_TEMPLATE.read_bytes()}
    for name in TOP_LEVEL:
        files[name] = root / name
    files[lesson.as_posix()] = root / lesson
    # A second, read-only copy inside the package: what the self-check compares with (the student
    # edits the one in lessons/ or a fresh copy of it).
    files[f"autograde/lesson/{reference.ASSIGNMENT}.ipynb"] = root / lesson
    for path in sorted((root / "miniai").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(root).as_posix()] = path
    for module in student_modules(root / "autograde"):
        files[f"autograde/{module}.py"] = root / "autograde" / f"{module}.py"
    for name in STUDENT_DATA:
        files[f"autograde/{name}"] = root / "autograde" / name
    missing = [str(p) for p in files.values() if isinstance(p, Path) and not p.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot build the student kit, missing: {', '.join(missing)} "
                                f"(run `autograde release` first)")
    return files


def uncommitted_changes(root: Path = reference.REPO_ROOT) -> list[str]:
    """The files the kit packs that differ from the last commit (empty outside a git checkout)."""
    packed = [p for p in kit_files(root).values() if isinstance(p, Path)] + [README_TEMPLATE]
    sources = sorted({str(p.relative_to(root)) for p in packed if p.is_relative_to(root)})
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--", *sources], cwd=root,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line[3:] for line in done.stdout.splitlines()] if done.returncode == 0 else []


def write_kit(out_dir: Path, root: Path = reference.REPO_ROOT) -> Path:
    """Write OUT_DIR/accel_sgd-student.zip; entries unpack into one folder of that name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{KIT_NAME}.zip"
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, source in sorted(kit_files(root).items()):
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = zipfile.ZipInfo(f"{KIT_NAME}/{name}", date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    partial.replace(target)
    return target
