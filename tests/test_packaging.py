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
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


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
    missing = {CONDA_NAMES.get(n, n) for n in pip_runtime_deps()} - conda_deps()
    assert not missing, f"environment.yml lacks {sorted(missing)}"


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
            "print('datasets.arrow_dataset' in sys.modules and any('fashion' in k for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
