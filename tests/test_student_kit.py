"""A student's way through the kit, driven by the kit README's own commands.

Unpack the zip, run the README's set-up commands in order, work in the fresh copy they make (answers
filled in, one left for later, a helper cell added), run the lesson's check cells in a kernel of the
new environment, then the README's self-check command.

Offline and fast, with two stated substitutions: the venv is made `--without-pip` and sees the
project's installed packages (torch, Jupyter, pip, setuptools) through a .pth file, so the PyTorch
CPU line is skipped; and `pip install -e .` runs with `--no-deps --no-build-isolation`.
"""
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograde import kit
from autograde.trusted import solution as reference
from autograde.visible.lessons.accel_sgd import LESSON
from corpus import HELPER, MOMENTUM_WITH_HELPER, notebook_with
EXERCISES = LESSON.classes

pytestmark = pytest.mark.slow  # grades a class, builds a venv or kills a grader: `make test-fast` leaves it out

README = Path(kit.README_TEMPLATE)
CPU_TORCH = ".venv/bin/pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu"
SETUP = ["python3 -m venv .venv", CPU_TORCH, ".venv/bin/pip install -e .", ".venv/bin/autograde check --fresh-copy work"]
JUPYTER = ".venv/bin/jupyter lab work/accel_sgd.ipynb"
SELF_CHECK = ".venv/bin/autograde check work/accel_sgd.ipynb"


def readme_commands() -> list[str]:
    """Every line of the README's ```bash blocks, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _offline(command: str, kit_dir: Path) -> list[str] | None:
    """What the test runs for a README line (None: skipped, see the module docstring)."""
    if command == "python3 -m venv .venv":
        return [sys.executable, "-m", "venv", "--without-pip", ".venv"]
    if command == CPU_TORCH:
        return None
    if command == ".venv/bin/pip install -e .":
        return [".venv/bin/python", "-m", "pip", "install", "--quiet", "-e", ".", "--no-deps", "--no-build-isolation"]
    return command.split()


def _run(argv, kit_dir: Path, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", PIP_NO_INDEX="1")
    return subprocess.run(argv, cwd=kit_dir, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    """The unpacked kit after the README's set-up commands."""
    where = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(kit.write_kit(tmp_path_factory.mktemp("dist"))) as zf:
        zf.extractall(where)
    kit_dir = where / kit.kit_name()
    for command in readme_commands()[:len(SETUP)]:
        argv = _offline(command, kit_dir)
        if argv is None:
            continue
        done = _run(argv, kit_dir)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if command == "python3 -m venv .venv":
            site = next((kit_dir / ".venv" / "lib").glob("python3*/site-packages"))
            (site / "project_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return kit_dir


def test_the_readme_commands_are_the_ones_this_test_runs():
    assert readme_commands() == [*SETUP, JUPYTER, SELF_CHECK]


def test_the_readme_says_what_run_all_does_and_how_long_it_takes():
    text = README.read_text()
    assert '"Run All" stops at the\n   first failing check' in text
    assert "measured about 2.5 minutes (138 s;" in text and "allow 10–20 minutes" in text


def test_the_kit_installs_and_makes_a_working_copy(student):
    assert (student / "work" / "accel_sgd.ipynb").read_bytes() == (student / "lessons" / "accel_sgd" /
                                                                  "accel_sgd.ipynb").read_bytes()
    where = _run([".venv/bin/python", "-c", "import autograde, miniai; print(autograde.__file__, miniai.__file__)"],
                 student)
    assert where.stdout.split() == [str(student / "autograde" / "__init__.py"), str(student / "miniai" / "__init__.py")]


def test_jupyter_started_from_the_venv_runs_python3_in_the_venv(student):
    """The README's `jupyter lab` line: the notebook's "python3" kernel is this environment's Python."""
    code = "from jupyter_client.kernelspec import KernelSpecManager; print(KernelSpecManager().get_kernel_spec('python3').argv[0])"
    done = _run([".venv/bin/python", "-c", code], student)
    assert done.stdout.strip() == str(student / ".venv" / "bin" / "python")
    assert nbformat.read(student / "work" / "accel_sgd.ipynb", as_version=4).metadata.kernelspec.name == "python3"
    assert _run([".venv/bin/python", "-m", "jupyterlab", "--version"], student).returncode == 0


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


@pytest.fixture(scope="module")
def worked(student) -> Path:
    """The student's work: every exercise but Adam, Momentum through an added helper cell, one written answer."""
    path = student / "work" / "accel_sgd.ipynb"
    lesson = nbformat.read(path, as_version=4)
    answers = {**reference.solution_sources(), "momentum": MOMENTUM_WITH_HELPER, "written_wd_vs_l2": "They differ with momentum."}
    del answers["adam"]
    at = next(i for i, c in enumerate(lesson.cells) if _gid(c) == "momentum")
    nbformat.write(notebook_with(lesson, answers, extra_cells=[(at, HELPER)]), path)
    return path


def test_the_check_cells_show_a_message_without_a_traceback(student, worked):
    """Setup, answers, the helper and the check cells, run in a kernel of the student's venv."""
    nb = nbformat.read(worked, as_version=4)
    keep = [c for c in nb.cells if c.cell_type == "code" and (_gid(c) in ("setup", *EXERCISES) or
                                                              str(_gid(c)).startswith("check_") or not _gid(c) and "def ema" in c.source)]
    nb.cells = keep
    sub = worked.with_name("checks.ipynb")
    nbformat.write(nb, sub)
    code = ("import nbformat, sys; from nbclient import NotebookClient; nb = nbformat.read(sys.argv[1], as_version=4); "
            "NotebookClient(nb, kernel_name='python3', allow_errors=True, timeout=300).execute(); "
            "nbformat.write(nb, sys.argv[1])")
    done = _run([".venv/bin/python", "-c", code, str(sub)], student)
    assert done.returncode == 0, done.stderr
    cells = {_gid(c): c for c in nbformat.read(sub, as_version=4).cells}
    from miniai.conv import describe_device
    assert [(o.get("name"), o.get("text")) for o in cells["setup"].outputs] == [
        ("stdout", f"Training runs on: {describe_device()}\n")], "the setup cell says the device, and no FutureWarning"
    assert cells["check_momentum"].outputs[0]["text"] == "✓ Momentum: all 4 public checks pass.\n"
    (error,) = cells["check_adam"].outputs
    assert error["ename"] == "CheckFailed"
    assert error["traceback"] == ["\x1b[1;31m✗ Adam: not written yet: replace `raise NotImplementedError()` "
                                  "with your code.\x1b[0m"]


def test_the_self_check_from_the_readme(student, worked):
    done = _run(SELF_CHECK.split(), student)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"PASS  {'momentum':<15} " in lines
    assert f"FAIL  {'adam':<15} Adam: not written yet: replace `raise NotImplementedError()` with your code." in lines
    assert "8 of 9 exercises pass their visible checks." in lines
    assert "filled  written_wd_vs_l2 written answer, graded by hand" in lines
    assert "EMPTY   written_adam_eps written answer, graded by hand" in lines
