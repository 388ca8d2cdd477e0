"""`autograde doctor`: each check passing and failing on made-up facts, and one real run."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograde import doctor
from autograde.doctor import FAIL, OK, WARN, GpuFacts, GpuInfo

H200 = GpuInfo("0", "NVIDIA H200", 141 * 2**30)


def statuses(findings, area=None):
    return [f.status for f in findings if area is None or f.area == area]


# --------------------------------------------------------------------------- sandbox

def test_a_working_sandbox_with_cgroups_as_an_unprivileged_user_is_all_ok():
    assert statuses(doctor.sandbox_findings("/usr/bin/bwrap", True, True, 1000)) == [OK, OK, OK]


def test_no_bubblewrap_is_unsafe_and_says_how_to_install_it():
    [sandbox] = [f for f in doctor.sandbox_findings(None, False, True, 1000) if f.area == "sandbox"]
    assert sandbox.status == FAIL and sandbox.fix.startswith("sudo apt-get install bubblewrap")


def test_bubblewrap_refused_by_the_kernel_names_the_sysctl():
    [sandbox] = [f for f in doctor.sandbox_findings("/usr/bin/bwrap", False, True, 1000) if f.area == "sandbox"]
    assert sandbox.status == FAIL and "kernel.apparmor_restrict_unprivileged_userns=0" in sandbox.fix


def test_no_cgroups_and_root_are_warnings_not_failures():
    found = doctor.sandbox_findings("/usr/bin/bwrap", True, False, 0)
    assert statuses(found) == [OK, WARN, WARN]
    assert "Delegate=yes" in found[1].fix and "useradd" in found[2].fix


# --------------------------------------------------------------------------- GPUs

def test_a_cpu_machine_is_fine():
    found = doctor.gpu_findings(GpuFacts([], None, [], plan="grading on the CPU, 4 submission(s) at once"))
    assert [(f.status, f.text) for f in found] == [(OK, "no GPU: grading on the CPU, 4 submission(s) at once")]


def test_gpus_are_listed_with_name_memory_driver_and_cuda():
    found = doctor.gpu_findings(GpuFacts(["/dev/nvidia0"], "13.0", [H200], "580.65", plan="grading on GPU(s) 0"))
    assert statuses(found) == [OK, OK, OK]
    assert found[0].text == "GPU 0: NVIDIA H200, 141.0 GiB"
    assert found[1].text == "driver 580.65; torch built for CUDA 13.0; grading on GPU(s) 0"


def test_gpu_devices_with_a_cpu_only_torch_fail_with_the_reinstall_command():
    [f] = doctor.gpu_findings(GpuFacts(["/dev/nvidia0"], None, []))
    assert f.status == FAIL and "CPU-only build" in f.text and "torch==2.14.1" in f.fix


def test_gpu_devices_torch_cannot_see_point_at_the_driver():
    [f] = doctor.gpu_findings(GpuFacts(["/dev/nvidia0"], "13.0", [], "470.1"))
    assert f.status == FAIL and "driver: 470.1" in f.text and "supports CUDA 13.0" in f.fix


def test_a_gpu_the_sandboxed_kernel_cannot_use_fails():
    found = doctor.gpu_findings(GpuFacts(["/dev/nvidia0"], "13.0", [H200], "580.65",
                                         sandbox_error="RuntimeError: CUDA driver initialization failed"))
    assert found[-1].status == FAIL and "cannot use GPU 0: RuntimeError" in found[-1].text


def test_gpus_of_different_kinds_warn_and_suggest_one_kind():
    other = GpuInfo("1", "NVIDIA A100", 80 * 2**30)
    found = doctor.gpu_findings(GpuFacts(["/dev/nvidia0", "/dev/nvidia1"], "13.0", [H200, other], "580.65"))
    [warn] = [f for f in found if f.status == WARN]
    assert warn.fix == "autograde grade --gpus 0 ..."


# --------------------------------------------------------------------------- data

def test_data_with_the_full_set_is_ok():
    assert statuses(doctor.data_findings(True, "debian /usr/share/datasets/fashion-mnist")) == [OK, OK]


def test_only_the_sample_warns_and_a_missing_sample_fails():
    assert statuses(doctor.data_findings(True, None)) == [OK, WARN]
    assert statuses(doctor.data_findings(False, None)) == [FAIL, WARN]


# --------------------------------------------------------------------------- packages

WANTED = {"torch": "==2.14.1", "torchvision": "==0.29.1", "numpy": ">=1.24"}


def test_packages_that_agree_with_environment_yml_are_ok():
    found = doctor.package_findings(WANTED, {"torch": "2.14.1+cu130", "torchvision": "0.29.1", "numpy": "2.1.0"})
    assert statuses(found) == [OK]


def test_another_torch_than_the_calibrated_one_fails():
    found = doctor.package_findings(WANTED, {"torch": "2.5.1", "torchvision": "0.29.1", "numpy": "2.1.0"})
    assert [(f.status, f.text) for f in found] == [
        (FAIL, "torch 2.5.1 does not match environment.yml's ==2.14.1: the tolerances and reference runs were "
               "measured with the pinned one")]
    assert found[0].fix.startswith("pip install 'torch==2.14.1'")


def test_other_packages_out_of_range_or_missing_only_warn():
    found = doctor.package_findings(WANTED, {"torch": "2.14.1", "torchvision": "0.29.1", "numpy": "1.21.0"})
    assert statuses(found) == [WARN]
    found = doctor.package_findings(WANTED, {"torch": "2.14.1", "torchvision": None, "numpy": "2.1.0"})
    assert [(f.status, f.text) for f in found] == [(FAIL, "torchvision is not installed (environment.yml wants ==0.29.1)")]


@pytest.mark.parametrize("conda, pip", [("=2.14.1", "==2.14.1.*"), ("=2.14.1=cuda130*", "==2.14.1.*"),
                                        ("2.14.1", "==2.14.1.*"), (">=0.9,<0.10", ">=0.9,<0.10"),
                                        ("==2.14.1=cuda*", "==2.14.1")])
def test_conda_version_specs_are_read_as_conda_means_them(conda, pip):
    assert doctor.conda_spec(conda) == pip


# --------------------------------------------------------------------------- the verdict

def test_any_failure_makes_the_exit_status_non_zero_and_says_not_ready():
    text, code = doctor.render(doctor.data_findings(False, "debian /x"))
    assert code == 1 and text.endswith("NOT READY: 1 problem(s) would make grading here unsafe or wrong (FAIL above).")
    assert "fix: git checkout -- miniai/data" in text


def test_warnings_alone_are_ready():
    text, code = doctor.render(doctor.data_findings(True, None))
    assert code == 0 and text.endswith("READY to grade (1 warning(s) above).")


def test_the_real_command_reports_every_area_and_exits_by_its_findings():
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, "-m", "autograde.cli", "doctor"], capture_output=True, text=True,
                         env=env, cwd=root, timeout=600)
    areas = {line.split()[1] for line in out.stdout.splitlines() if line.startswith("  ") and line.split()[0] in
             (OK, WARN, FAIL)}
    assert areas - {"syscalls"} == {"sandbox", "cgroups", "user", "gpu", "data", "packages"}, out.stdout + out.stderr
    from autograde.running import sandbox
    assert ("syscalls" in areas) == sandbox.bwrap_available()  # the filter's line, where there is a sandbox
    failed = any(line.split()[0] == FAIL for line in out.stdout.splitlines() if line.startswith("  "))
    assert out.returncode == (1 if failed else 0)
    assert out.stdout.splitlines()[-1].startswith("NOT READY" if failed else "READY")
