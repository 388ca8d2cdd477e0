"""The student kit: what students get instead of this repository, which holds the solutions.

`autograde kit` packs the released lesson, the `miniai` library and just enough of `autograde`
for the visible checks and `autograde check` into one zip. Nothing that holds or derives the
solutions goes in: not `solutions/`, not the judge or the mistake catalogue (edits of the
solution text), not the sample class (alice's notebook is a full solution).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from . import reference

KIT_NAME = f"{reference.ASSIGNMENT}-student"
# The modules `autograde check` and the lesson's `check(...)` cells import, and nothing else.
STUDENT_MODULES = ("__init__", "cli", "reference", "cases", "compare", "visible", "selfcheck",
                   "notebook", "sandbox", "kernel_runner", "cgroups")
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
    for path in sorted((root / "miniai").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(root).as_posix()] = path
    for module in STUDENT_MODULES:
        files[f"autograde/{module}.py"] = root / "autograde" / f"{module}.py"
    for name in STUDENT_DATA:
        files[f"autograde/{name}"] = root / "autograde" / name
    missing = [str(p) for p in files.values() if isinstance(p, Path) and not p.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot build the student kit, missing: {', '.join(missing)} "
                                f"(run `autograde release` first)")
    return files


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
