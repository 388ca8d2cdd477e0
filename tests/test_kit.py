"""The student kit: everything a student needs to do the lesson and self-check it, and no solution."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograde import kit
from autograde.trusted import solution as reference
from autograde.visible.lessons.accel_sgd import LESSON
from conftest import WITHOUT_EDITABLE
EXERCISES = LESSON.classes

ROOT = Path(__file__).resolve().parent.parent
SOLVED = ROOT / "autograde" / "samples" / "alice" / "accel_sgd" / "accel_sgd.ipynb"
# A module of the unpacked kit runs with the repository's editable install out of the way (WITHOUT_EDITABLE),
# so that an import the kit cannot satisfy fails instead of quietly falling back to this checkout.


@pytest.fixture(scope="module")
def kit_zip(tmp_path_factory) -> Path:
    return kit.write_kit(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def unpacked(kit_zip, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(kit_zip) as zf:
        zf.extractall(where)
    return where / kit.kit_name()


def _run_in_kit(kit_dir: Path, code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(kit_dir), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", WITHOUT_EDITABLE + code], cwd=kit_dir, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _solution_lines() -> set[str]:
    """The lines inside the solution regions of the source notebook (the answers)."""
    nb = json.loads(reference.solutions_notebook().read_text())
    lines, inside = set(), False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


@pytest.mark.slow
def test_the_kit_holds_the_lesson_miniai_and_the_self_check(kit_zip):
    names = {n.split("/", 1)[1] for n in zipfile.ZipFile(kit_zip).namelist()}
    assert {"README.md", "pyproject.toml", "environment.yml", "lessons/accel_sgd/accel_sgd.ipynb",
            "miniai/learner.py", "autograde/visible/checks.py", "autograde/selfcheck.py",
            "autograde/visible/lessons/accel_sgd/expected.json"} <= names
    assert any(n.startswith("miniai/data/") for n in names), "the offline Fashion-MNIST sample"


@pytest.mark.slow
def test_the_kit_holds_nothing_that_holds_or_derives_the_solutions(kit_zip):
    names = {n.split("/", 1)[1] for n in zipfile.ZipFile(kit_zip).namelist()}
    assert not [n for n in names if n.startswith(("solutions/", "autograde/samples/", "tests/", "tools/"))]
    assert not {"autograde/mistakes.py", "autograde/judge.py", "autograde/release.py"} & names


@pytest.mark.slow
def test_no_line_of_any_solution_appears_in_the_kit(kit_zip):
    answers = _solution_lines()
    assert len(answers) >= len(EXERCISES), "the solution regions were not found"
    with zipfile.ZipFile(kit_zip) as zf:
        text = "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist() if not n.endswith((".gz", ".npz")))
    kit_lines = {line.strip() for line in text.splitlines()}
    leaked = sorted(answers & kit_lines)
    assert not leaked, f"solution lines found in the student kit: {leaked[:5]}"


@pytest.mark.slow
def test_the_kit_is_the_same_bytes_on_every_build(kit_zip, tmp_path):
    assert kit.write_kit(tmp_path).read_bytes() == kit_zip.read_bytes()


@pytest.mark.slow
def test_every_module_the_kit_ships_imports_from_the_kit_alone(unpacked):
    shipped = sorted((unpacked / "autograde").rglob("*.py"))
    modules = ", ".join(".".join(p.relative_to(unpacked).with_suffix("").parts).removesuffix(".__init__")
                        for p in shipped)
    code = (f"import importlib, autograde; [importlib.import_module(m) for m in '{modules}'.split(', ')]; "
            "import miniai.learner, miniai.datasets, miniai.init, miniai.activations, miniai.conv; "
            "print(autograde.__file__)")
    done = _run_in_kit(unpacked, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(unpacked / "autograde" / "__init__.py")
    judge = _run_in_kit(unpacked, "import autograde.trusted.judge")
    assert "No module named 'autograde.trusted'" in judge.stderr


@pytest.mark.slow
def test_the_self_check_passes_a_finished_notebook_from_the_kit(unpacked):
    done = _run_in_kit(unpacked, f"from autograde.cli import main; raise SystemExit(main(['check', {str(SOLVED)!r}]))")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(EXERCISES)} of {len(EXERCISES)} exercises pass" in done.stdout


@pytest.mark.slow
def test_the_self_check_fails_the_unfilled_lesson_from_the_kit(unpacked):
    lesson = unpacked / "lessons" / "accel_sgd" / "accel_sgd.ipynb"
    done = _run_in_kit(unpacked, f"from autograde.cli import main; raise SystemExit(main(['check', {str(lesson)!r}]))")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"0 of {len(EXERCISES)} exercises pass" in done.stdout


@pytest.mark.slow
def test_instructor_commands_in_the_kit_say_what_is_missing(unpacked, tmp_path):
    done = _run_in_kit(unpacked, f"from autograde.cli import main; raise SystemExit(main(['grade', {str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}]))")
    assert done.returncode == 2
    assert "student kit" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_kit_builds_as_a_package_with_its_data(unpacked, tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(tmp_path), str(unpacked)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"autograde/visible/lessons/accel_sgd/expected.json", "autograde/selfcheck.py", "miniai/learner.py",
            "autograde/lesson/accel_sgd.ipynb"} <= names
    assert any(n.startswith("miniai/data/") for n in names)
    assert not any(n.startswith(("autograde/trusted/", "autograde/outputs/")) for n in names)


@pytest.mark.slow
def test_the_kit_packs_the_released_lesson_twice_once_for_the_student_once_for_the_self_check(kit_zip):
    with zipfile.ZipFile(kit_zip) as zf:
        work = zf.read(f"{kit.kit_name()}/lessons/accel_sgd/accel_sgd.ipynb")
        packed = zf.read(f"{kit.kit_name()}/autograde/lesson/accel_sgd.ipynb")
    assert work == packed == (ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb").read_bytes()


@pytest.mark.slow
def test_the_kit_holds_the_visible_and_running_folders_whole(kit_zip):
    names = {n.split("/", 1)[1] for n in zipfile.ZipFile(kit_zip).namelist()}
    for folder in ("visible", "running"):
        assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "autograde" / folder).glob("*.py")} <= names
    assert {"autograde/cli.py", "autograde/selfcheck.py", "autograde/paths.py"} <= names


def test_kit_help_says_out_is_a_folder(capsys):
    from autograde.cli import main
    with pytest.raises(SystemExit):
        main(["kit", "--help"])
    assert "--out FOLDER  folder to write accel_sgd-student.zip into (default: dist/)" in capsys.readouterr().out


def test_uncommitted_changes_in_what_the_kit_packs_are_named(tmp_path):
    for source in kit.kit_files(ROOT).values():
        if isinstance(source, Path) and source.is_relative_to(ROOT):
            target = tmp_path / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    (tmp_path / "autograde" / "kit_readme.md").write_bytes(kit.README_TEMPLATE.read_bytes())
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "kit sources"]):
        subprocess.run(git + cmd, cwd=tmp_path, check=True, capture_output=True)
    assert kit.uncommitted_changes(tmp_path) == []
    with open(tmp_path / "miniai" / "learner.py", "a") as f:
        f.write("# an edit\n")
    assert kit.uncommitted_changes(tmp_path) == ["miniai/learner.py"]
