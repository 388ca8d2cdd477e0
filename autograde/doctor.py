"""`autograde doctor`: what grading will use on this machine, what is missing, and how to fix it.

A lab admin's one command before grading a class. Each check turns probed *facts* (gathered in
`gather`) into findings with pure functions, so each can be tested failing and passing with made-up
facts. Exit status 1 when grading here would be unsafe (no sandbox) or wrong (a GPU the kernels
cannot use, the wrong torch for the calibrated tolerances, no data for the hidden runs).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from autograde import paths
from autograde.running import gpus, kernel_users
from autograde.trusted.result_cache import installed_versions

OK, WARN, FAIL = "ok", "warn", "FAIL"
ENV_YML = paths.REPO_ROOT / "environment.yml"
CALIBRATED = ("torch", "torchvision")  # the tolerances and the reference cache were measured with these
CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PYTHON = {"python", "pip", "bubblewrap", "cuda-version"}


@dataclass
class Finding:
    area: str
    status: str  # OK, WARN or FAIL
    text: str
    fix: str = ""  # the command (or step) that fixes it


@dataclass
class GpuInfo:
    index: str
    name: str
    memory_bytes: int


@dataclass
class GpuFacts:
    device_nodes: list[str]          # /dev/nvidia*: what the sandbox binds into kernels
    torch_cuda: str | None           # the CUDA version torch was built for (None: a CPU-only build)
    gpus: list[GpuInfo]              # the GPUs grading may use (CUDA_VISIBLE_DEVICES, else all torch sees)
    driver: str | None = None        # NVIDIA driver version (nvidia-smi)
    sandbox_error: str | None = None  # why a sandboxed kernel could not use the first GPU (None: it could)
    plan: str = ""                   # gpus.Plan.describe() for the defaults


# --------------------------------------------------------------------------- facts -> findings

def sandbox_findings(bwrap_exe: str | None, bwrap_works: bool, cgroups_ok: bool, kernel_uid: int) -> list[Finding]:
    """`kernel_uid`: the uid student kernels will run as (sandbox.kernel_uid())."""
    found = []
    if bwrap_exe is None:
        found.append(Finding("sandbox", FAIL, "bubblewrap is not installed: student kernels would run without "
                             "isolation (network, solutions and other submissions readable)",
                             "sudo apt-get install bubblewrap   # or: conda install -c conda-forge bubblewrap"))
    elif not bwrap_works:
        found.append(Finding("sandbox", FAIL, f"{bwrap_exe} cannot build the sandbox here (unprivileged user "
                             "namespaces refused), so kernels would run without isolation",
                             "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0   # Ubuntu 24.04+; "
                             "Debian: sudo sysctl -w kernel.unprivileged_userns_clone=1; or grade as root"))
    else:
        found.append(Finding("sandbox", OK, f"bubblewrap works ({bwrap_exe}): kernels run without network, with "
                             "the course and the class hidden"))
    if cgroups_ok:
        found.append(Finding("cgroups", OK, "each submission gets its own cgroup (process count, CPU share)"))
    else:
        found.append(Finding("cgroups", WARN, "no writable cgroup tree: a submission's process count and CPU "
                             "share are not capped (a fork bomb slows the others)",
                             "grade as root, or inside a delegated cgroup v2 tree: "
                             "systemd-run --scope -p Delegate=yes autograde grade ..."))
    if kernel_uid == 0:
        found.append(Finding("user", WARN, "student kernels would run as root (the sandbox cannot drop to an "
                             "unprivileged user here), with every capability dropped, in their own namespaces",
                             "grade as an unprivileged user: sudo useradd --system --create-home autograde && "
                             "sudo -u autograde autograde grade ..."))
    elif kernel_users.FIRST <= kernel_uid <= kernel_users.LAST:
        found.append(Finding("user", OK, "each kernel runs as an unprivileged uid of its own "
                             f"(from {kernel_users.FIRST}-{kernel_users.LAST}, named in no user database)"))
    else:
        found.append(Finding("user", OK, f"kernels run as an unprivileged user (uid {kernel_uid})"))
    return found


def syscall_filter_findings(bwrap_works: bool, in_force: bool) -> list[Finding]:
    """Whether kernels run under the seccomp filter (running/seccomp.py: keyrings, namespaces, bpf...)."""
    if not bwrap_works:
        return []  # no sandbox at all: the sandbox finding already fails
    if in_force:
        return [Finding("syscalls", OK, "kernels run under the syscall filter (no keyrings, namespaces, bpf, "
                        "mounts...: running/seccomp.py)")]
    return [Finding("syscalls", WARN, "the syscall filter is not in force: kernels can use the host's keyrings "
                    "(what one adds the next can read) and create namespaces", "sudo apt-get install libseccomp2 && "
                    "pip install pyseccomp   # then the grader's log and this check say whether bwrap loads it")]


def gpu_findings(f: GpuFacts) -> list[Finding]:
    if f.device_nodes and f.torch_cuda is None:
        return [Finding("gpu", FAIL, f"this machine has GPU devices ({', '.join(f.device_nodes[:3])}) but "
                        "torch is a CPU-only build: every run would silently use the CPU",
                        "pip install --force-reinstall torch==2.14.1 torchvision==0.29.1   "
                        "# PyPI's Linux wheels are CUDA builds")]
    if f.device_nodes and not f.gpus:
        return [Finding("gpu", FAIL, f"GPU devices exist but torch (built for CUDA {f.torch_cuda}) sees none "
                        f"(driver: {f.driver or 'unknown'}; CUDA_VISIBLE_DEVICES="
                        f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')!s})",
                        f"install an NVIDIA driver that supports CUDA {f.torch_cuda} (nvidia-smi's 'CUDA Version' "
                        f"must be at least that), or unset CUDA_VISIBLE_DEVICES")]
    if not f.gpus:
        return [Finding("gpu", OK, f"no GPU: {f.plan or 'grading runs on the CPU'}")]
    found = [Finding("gpu", OK, f"GPU {g.index}: {g.name}, {g.memory_bytes / 2**30:.1f} GiB") for g in f.gpus]
    found.append(Finding("gpu", OK, f"driver {f.driver or 'unknown'}; torch built for CUDA {f.torch_cuda}; {f.plan}"))
    kinds = sorted({g.name for g in f.gpus})
    if len(kinds) > 1:
        first = [g.index for g in f.gpus if g.name == f.gpus[0].name]
        found.append(Finding("gpu", WARN, f"GPUs of different kinds ({', '.join(kinds)}): verdicts are compared "
                             f"with reference runs made on one kind", f"autograde grade --gpus {','.join(first)} ..."))
    if f.sandbox_error:
        found.append(Finding("gpu", FAIL, f"a kernel in the sandbox cannot use GPU {f.gpus[0].index}: "
                             f"{f.sandbox_error}",
                             "check that the grader's user can open /dev/nvidia* (ls -l /dev/nvidia*) and that the "
                             "sandbox's memory limit leaves CUDA room (sandbox.Limits.memory_bytes)"))
    else:
        found.append(Finding("gpu", OK, "a kernel in the sandbox trains on its GPU"))
    return found


def data_findings(sample_ok: bool, full_source: str | None) -> list[Finding]:
    found = []
    if sample_ok:
        found.append(Finding("data", OK, "the committed FashionMNIST sample (the hidden short runs' data) is there"))
    else:
        found.append(Finding("data", FAIL, "the committed FashionMNIST sample (miniai/data/) is missing: the hidden "
                             "short runs cannot run", "git checkout -- miniai/data && pip install -e '.[grader]'"))
    if full_source:
        found.append(Finding("data", OK, f"the lesson's full data: {full_source}"))
    else:
        found.append(Finding("data", WARN, "only the committed sample is available offline: the lesson's own "
                             "training runs in graded notebooks use it instead of the full FashionMNIST",
                             "sudo apt-get install dataset-fashion-mnist   # or set MINIAI_DATA to a folder "
                             "with the four IDX files"))
    return found


def package_findings(wanted: dict[str, str], installed: dict[str, str | None]) -> list[Finding]:
    """environment.yml's requirements (pip names -> specifier) against what is installed."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    found = []
    for name, spec in sorted(wanted.items()):
        have = installed.get(name)
        status = FAIL if name in CALIBRATED else WARN
        if have is None:
            found.append(Finding("packages", status, f"{name} is not installed (environment.yml wants {spec or 'it'})",
                                 f"pip install '{name}{spec}'"))
        elif spec and not SpecifierSet(spec).contains(Version(have).base_version, prereleases=True):
            why = ": the tolerances and reference runs were measured with the pinned one" if name in CALIBRATED else ""
            found.append(Finding("packages", status, f"{name} {have} does not match environment.yml's {spec}{why}",
                                 f"pip install '{name}{spec}'   # or: conda env update -f environment.yml"))
    shown = ", ".join(f"{n} {installed.get(n) or '-'}" for n in (*CALIBRATED, "nbgrader", "numpy", "distributed"))
    if not any(f.status != OK for f in found):
        found.append(Finding("packages", OK, f"installed packages agree with environment.yml ({shown})"))
    return found


def access_findings(exposed: list, course_root: Path | None) -> list[Finding]:
    """What of the course other accounts can reach (access.exposures), each with the command that closes
    it. Warnings, not failures: the doctor cannot tell students' accounts from system ones."""
    if course_root is None:
        return [Finding("access", WARN, "no course folder here (nbgrader_config.py), so who can read its "
                        "solutions, submissions and gradebook was not checked",
                        "autograde doctor --course COURSE   # or run it in the course folder")]
    if not exposed:
        return [Finding("access", OK, f"other accounts cannot reach the course's solutions, submissions, gradebook "
                        f"or grading outputs ({course_root})")]
    return [Finding("access", WARN, e.describe(), e.fix) for e in exposed]


# --------------------------------------------------------------------------- probing this machine

def conda_spec(spec: str) -> str:
    """A conda version spec as a pip specifier: conda's `=2.14.1` means 2.14.1.*, and a build string
    after a second `=` (`=2.14.1=cuda130*`) does not concern the version."""
    spec = spec.split("#")[0].strip().replace(" ", "")
    if spec.startswith("=") and not spec.startswith("=="):
        version = spec[1:].split("=")[0].rstrip("*").rstrip(".")
        return f"=={version}.*"
    if re.match(r"^[0-9]", spec):  # `pytorch 2.14.1`: conda's fuzzy match, like =2.14.1
        return conda_spec("=" + spec)
    return re.sub(r"^(==[^=]+)=.*$", r"\1", spec)  # ==2.14.1=cuda130*: the build string dropped


def env_yml_requirements(path: Path = ENV_YML) -> dict[str, str]:
    """pip name -> specifier for every Python package environment.yml installs (conda or pip part)."""
    import yaml
    wanted = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        for item in (dep.get("pip", []) if isinstance(dep, dict) else [dep]):
            if item.startswith("-"):
                continue  # -e ., --extra-index-url
            m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", item)
            assert m is not None, f"environment.yml: {item!r} does not begin with a package name"
            name = CONDA_TO_PIP.get(m.group(1).lower(), m.group(1).lower()).replace("_", "-")
            if name not in NOT_PYTHON:
                wanted[name] = conda_spec(m.group(2)) if isinstance(dep, str) else m.group(2).replace(" ", "")
    return wanted




def _driver_version() -> str | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
        return out.stdout.split()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def sandbox_gpu_error(device: str) -> str | None:
    """Run a one-cell notebook in the real sandbox, as a graded kernel on `device`: can it use the GPU?"""
    import nbformat
    import tempfile
    from autograde.running.sandbox import run_notebook
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import torch\nx = torch.randn(256, 256, device='cuda')\nprint((x @ x).sum().item() == (x @ x).sum().item())")])
    with tempfile.TemporaryDirectory(prefix="autograde-doctor-") as work:
        run = run_notebook(nb, Path(work), env=gpus.kernel_env(gpus.Slot(device)))
    if run.status != "ok":
        return run.message
    return next(iter(run.cell_errors.values()), None)


def probe_gpus() -> GpuFacts:
    from autograde.running.sandbox import gpu_devices
    import torch
    plan = gpus.plan()
    found = []
    for i, index in enumerate(gpus.visible_gpus()):  # torch numbers the visible GPUs 0, 1, ...
        props = torch.cuda.get_device_properties(i)
        found.append(GpuInfo(index, props.name, props.total_memory))
    facts = GpuFacts(gpu_devices(), torch.version.cuda, found, _driver_version(), plan=plan.describe())
    if found:
        facts.sandbox_error = sandbox_gpu_error(found[0].index)
    return facts


def probe_data() -> tuple[bool, str | None]:
    import warnings
    from miniai.data import find_source as find
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample_ok = find(sample=True)[0].kind == "sample"
            full = find()[0]
    except Exception:  # noqa: BLE001 - no source at all: reported as missing
        return False, None
    return sample_ok, (None if full.kind == "sample" else f"{full.kind} {full.location}")


OVERRIDES = {"AUTOGRADE_LESSON": "lesson", "AUTOGRADE_SOLUTIONS": "solutions notebook",
             "AUTOGRADE_CACHE": "cache folder"}


def override_findings(environ) -> list[Finding]:
    """The course settings a person overrides in the environment: they hold for every course graded here,
    where each course otherwise has its own (course.py)."""
    return [Finding("course", WARN, f"{name}={environ[name]} replaces every course's own {what}",
                    f"unset {name}   # to grade each course with its own")
            for name, what in OVERRIDES.items() if environ.get(name)]


def probe_access(course: str | None = None):
    """(exposures, course root) of the course named, else the one this command runs in; (.., None): none."""
    from autograde import access
    from autograde.course import CourseError, find_course
    try:
        found = find_course(course)
    except CourseError:
        return [], None
    return access.exposures(found), found.root


def gather(course: str | None = None) -> list[Finding]:
    from autograde.running import cgroups, sandbox
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # as grading runs: the hub is never reached
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    exe = shutil.which("bwrap")
    found = sandbox_findings(exe, sandbox.bwrap_available(), cgroups.available(), sandbox.kernel_uid())
    found += syscall_filter_findings(sandbox.bwrap_available(), sandbox.syscall_filter_in_force())
    found += gpu_findings(probe_gpus())
    found += data_findings(*probe_data())
    wanted = env_yml_requirements()
    found += package_findings(wanted, installed_versions({*wanted, *CALIBRATED, "nbgrader", "numpy", "distributed"}))
    found += access_findings(*probe_access(course))
    found += override_findings(os.environ)
    return found


def render(findings: list[Finding]) -> tuple[str, int]:
    lines = ["autograde doctor: what grading will use on this machine"]
    for f in findings:
        lines.append(f"  {f.status:<4}  {f.area:<8}  {f.text}")
        if f.fix and f.status != OK:
            lines.append(f"  {'':<4}  {'':<8}  fix: {f.fix}")
    failed = [f for f in findings if f.status == FAIL]
    if failed:
        lines.append(f"NOT READY: {len(failed)} problem(s) would make grading here unsafe or wrong (FAIL above).")
    else:
        warned = sum(f.status == WARN for f in findings)
        lines.append("READY to grade" + (f" ({warned} warning(s) above)." if warned else "."))
    return "\n".join(lines), 1 if failed else 0


def main(course: str | None = None) -> int:
    text, code = render(gather(course))
    print(text)
    return code
