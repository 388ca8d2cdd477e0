"""The two install paths agree: conda's environment.yml names every runtime dependency pip's does."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # same package, another name on conda channels


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pip_runtime_deps() -> set:
    """The student set and the grader's extra: what a grading machine runs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["grader"]}


def conda_deps() -> set:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(p) for p in dep.get("pip", []) if not p.startswith("-")}
        else:
            names.add(_name(dep))
    return names


def test_environment_yml_names_every_runtime_dependency():
    conda = conda_deps()
    missing = {n for n in pip_runtime_deps() if n not in conda and CONDA_NAMES.get(n) not in conda}
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def _pins(requirements) -> dict:
    """name -> exact version, for pinned requirements (pip's ==, conda's =)."""
    found = {}
    for r in requirements:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*==?\s*([0-9][^=\s,*]*)", r)
        if m:
            found[CONDA_NAMES_BACK.get(m.group(1).lower(), m.group(1).lower())] = m.group(2)
    return found


CONDA_NAMES_BACK = {v: k for k, v in CONDA_NAMES.items()}


def makefile_torch_pins() -> dict:
    line = next(ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("TORCH"))
    return _pins(line.split("=", 1)[1].split())


def environment_yml_pins() -> dict:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    flat = [p for d in env["dependencies"] for p in (d.get("pip", []) if isinstance(d, dict) else [d])]
    return _pins(flat)


def test_conda_and_pip_install_the_same_torch_and_torchvision():
    pip_side = makefile_torch_pins()
    assert set(pip_side) == {"torch", "torchvision"}
    assert {k: environment_yml_pins().get(k) for k in pip_side} == pip_side


def test_environment_yml_does_not_use_the_retired_pytorch_channel():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    assert "pytorch" not in env["channels"] and "nvidia" not in env["channels"]
    assert "pytorch-cuda" not in names
    if "pytorch" in names:  # conda-forge's CUDA build: its CUDA must be pinned
        assert "cuda-version" in names


def test_the_doctor_reads_environment_yml_as_this_test_does():
    from autograde.doctor import env_yml_requirements
    wanted = env_yml_requirements()
    assert {k: wanted[k] for k in ("torch", "torchvision")} == {k: f"=={v}" for k, v in makefile_torch_pins().items()}
    assert wanted["nbgrader"] == ">=0.9,<0.10"


def test_environment_yml_installs_this_repository():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_part = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_part


def test_the_autograde_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["autograde"] == "autograde.cli:run"


def test_importing_miniai_is_cheap():
    import subprocess
    import sys
    code = ("import sys, miniai, miniai.datasets, miniai.learner, miniai.init, miniai.activations, miniai.conv; "
            "print('datasets.arrow_dataset' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
