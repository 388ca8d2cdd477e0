"""The student set (pyproject.toml's dependencies, what the kit installs) is enough for the lesson and its
self-check, and holds nothing of the grader.

A venv is made that holds exactly the student set: the distributions its requirements reach, followed
through every Requires-Dist (markers and extras as pip reads them) in this project's environment, are
hard-linked into a fresh venv's site-packages (offline and fast; nothing else of this environment is
visible there). The unpacked student kit is put on its path as `pip install -e .` would. In that venv
the released lesson's first cells run in a Jupyter kernel, and `autograde check` passes a finished notebook.
"""
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autograde import kit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SOLVED = ROOT / "autograde" / "samples" / "alice" / "accel_sgd" / "accel_sgd.ipynb"
GRADER_ONLY = {"nbgrader", "distributed", "dask", "nh3"}
FIRST_CELLS = ("setup", "data")  # the lesson's imports and its data


def student_requirements() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def reached(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """Every distribution of this environment that installing `requirements` brings in, by name."""
    found: dict[str, tuple[metadata.Distribution, set]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in found:
            found[name] = (metadata.distribution(name), set())
        dist, followed = found[name]
        extras = ({""} | set(req.extras)) - followed
        followed |= extras
        for line in dist.requires or []:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                dep.marker = None
                todo.append(dep)
    return {name: dist for name, (dist, _) in found.items()}


def test_the_student_set_brings_in_nothing_of_the_grader():
    assert GRADER_ONLY & set(reached(student_requirements())) == set()


def test_the_grader_extra_holds_what_the_student_set_leaves_out():
    grader = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["grader"]
    assert {canonicalize_name(Requirement(r).name) for r in grader} >= {"nbgrader", "distributed", "nh3"}


def _run(argv, cwd: Path, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def student_env(tmp_path_factory) -> tuple[Path, Path]:
    """(the venv's python, the unpacked kit): a venv holding the student set and the kit, nothing else."""
    where = tmp_path_factory.mktemp("student-set")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    for dist in reached(student_requirements()).values():
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD"
        for rel in dist.files:
            source = Path(dist.locate_file(rel))
            if rel.parts[0] == ".." or not source.is_file():
                continue  # scripts and data outside site-packages, or files the RECORD names but are gone
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                try:
                    os.link(source, target)
                except OSError:  # another file system: copy
                    shutil.copy2(source, target)
    with zipfile.ZipFile(kit.write_kit(where / "dist")) as zf:
        zf.extractall(where)
    kit_dir = where / kit.kit_name()
    (site / "student_kit.pth").write_text(f"{kit_dir}\n")  # what `pip install -e .` of the kit gives
    return venv / "bin" / "python", kit_dir


def test_the_venv_holds_the_kit_and_no_grader_package(student_env):
    python, kit_dir = student_env
    code = ("import importlib.util as u, autograde, miniai; print(autograde.__file__); "
            f"print([m for m in {sorted(GRADER_ONLY)!r} if u.find_spec(m)])")
    done = _run([str(python), "-c", code], kit_dir)
    assert done.stdout.splitlines() == [str(kit_dir / "autograde" / "__init__.py"), "[]"], done.stderr


def test_the_released_lessons_first_cells_run_in_a_kernel_of_the_student_set(student_env):
    python, kit_dir = student_env
    lesson = kit_dir / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in FIRST_CELLS]
    assert len(nb.cells) == len(FIRST_CELLS)
    first = kit_dir / "first_cells.ipynb"
    nbformat.write(nb, first)
    code = ("import nbformat, sys; from nbclient import NotebookClient; nb = nbformat.read(sys.argv[1], as_version=4); "
            "NotebookClient(nb, kernel_name='python3', timeout=300, resources={'metadata': {'path': '.'}}).execute(); "
            "nbformat.write(nb, sys.argv[1])")
    done = _run([str(python), "-c", code, str(first)], kit_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    setup = nbformat.read(first, as_version=4).cells[0]
    assert [o.get("text", "").split(":")[0] for o in setup.outputs] == ["Training runs on"]


def test_the_self_check_passes_a_finished_notebook_in_the_student_set(student_env):
    python, kit_dir = student_env
    work = kit_dir / "work"
    work.mkdir()
    shutil.copyfile(SOLVED, work / "accel_sgd.ipynb")
    done = _run([str(python), "-m", "autograde.cli", "check", "work/accel_sgd.ipynb"], kit_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 of 9 exercises pass their visible checks." in done.stdout.splitlines()
