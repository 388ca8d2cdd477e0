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


# --------------------------------------------------------------------------- who else can read the course

@pytest.fixture
def course(tmp_path):
    """A course folder as `git clone` and `nbgrader collect` leave it under the usual umask (022)."""
    old = os.umask(0o022)
    root = tmp_path / "course"
    (root / "solutions" / "accel_sgd").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c.CourseDirectory.source_directory = 'solutions'\n")
    (root / "solutions" / "accel_sgd" / "accel_sgd.ipynb").write_text("{}")
    (root / "submitted" / "bob" / "accel_sgd").mkdir(parents=True)
    (root / "gradebook.db").write_text("")
    os.umask(old)
    return root


def access_report(root):
    from autograde import access
    from autograde.course import load
    return doctor.access_findings(access.exposures(load(root)), root)


def test_a_world_readable_course_names_each_open_part_with_the_command_that_closes_it(course):
    found = access_report(course)
    assert [(f.status, f.text, f.fix) for f in found] == [
        (WARN, "the course folder can be read by other accounts: mode 0755", f"chmod o-rwx {course}"),
        (WARN, "the solutions (solutions/) can be read by other accounts: mode 0755",
         f"chmod -R o-rwx {course}/solutions"),
        (WARN, f"the submissions (submitted/) can be read by other accounts (3 open, e.g. {course}/submitted): "
               "mode 0755", f"chmod -R o-rwx {course}/submitted"),
        (WARN, "the gradebook can be read by other accounts: mode 0644", f"chmod o-rwx {course}/gradebook.db")]
    text, code = doctor.render(found)
    assert f"fix: chmod -R o-rwx {course}/solutions" in text and code == 0


def test_a_closed_course_folder_is_one_ok_line(course):
    course.chmod(0o750)
    assert [(f.status, f.text) for f in access_report(course)] == [
        (OK, f"other accounts cannot reach the course's solutions, submissions, gradebook or grading outputs ({course})")]


def test_each_fix_closes_what_it_names(course):
    for f in access_report(course)[1:]:
        subprocess.run(f.fix, shell=True, check=True)
    assert [f.text for f in access_report(course)] == ["the course folder can be read by other accounts: mode 0755"]


def test_a_collected_submission_folder_open_to_writing_is_named(course):
    """nbgrader collect leaves submitted/{student}/{assignment} 0777: any account can add or delete files."""
    (course / "submitted" / "bob" / "accel_sgd").chmod(0o777)
    course.chmod(0o751)  # passable, not listable: the folders' names are known
    [f] = [f for f in access_report(course) if "submissions" in f.text]
    assert f.text == (f"the submissions (submitted/) can be read and changed by other accounts (3 open, e.g. "
                      f"{course}/submitted/bob/accel_sgd): mode 0777")


class Stop(Exception):
    pass


def grade_warnings(course, monkeypatch, capsys) -> list[str]:
    """What `autograde grade` says before it loads the course (stopped there: nothing is graded)."""
    from autograde import classgrade
    from autograde.course import load
    (course / "submitted" / "bob" / "accel_sgd" / "accel_sgd.ipynb").write_text("{}")

    def stop(**kwargs):
        raise Stop
    monkeypatch.setattr(classgrade.grade, "load_setup", stop)
    for name in ("AUTOGRADE_LESSON", "AUTOGRADE_SOLUTIONS", "AUTOGRADE_CACHE"):  # the course's own, not a person's
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Stop):
        classgrade.grade_class(load(course))
    return [line for line in capsys.readouterr().err.splitlines() if "solutions" in line]


def test_grading_warns_in_one_line_while_the_solutions_are_readable(course, monkeypatch, capsys):
    assert grade_warnings(course, monkeypatch, capsys) == [
        f"warning: other accounts on this machine can read the solutions ({course}/solutions/accel_sgd/"
        f"accel_sgd.ipynb); close them: chmod -R o-rwx {course}/solutions   (autograde doctor checks the whole course)"]


def test_grading_says_nothing_of_closed_solutions(course, monkeypatch, capsys):
    (course / "solutions").chmod(0o750)
    assert grade_warnings(course, monkeypatch, capsys) == []


def test_no_course_folder_warns_and_says_how_to_name_one():
    [f] = doctor.access_findings([], None)
    assert f.status == WARN and f.fix.startswith("autograde doctor --course COURSE")


def test_the_gradebook_nbgrader_made_world_readable_becomes_staff_only(tmp_path):
    from autograde.access import staff_only
    db = tmp_path / "gradebook.db"
    db.write_text("")
    db.chmod(0o644)
    staff_only(f"sqlite:///{db}")
    assert db.stat().st_mode & 0o777 == 0o640
    db.chmod(0o600)
    staff_only(f"sqlite:///{db}")
    assert db.stat().st_mode & 0o777 == 0o600  # a stricter mode stays


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
    assert areas - {"syscalls"} == {"sandbox", "cgroups", "user", "gpu", "data", "packages", "access"}, out.stdout + out.stderr
    from autograde.running import sandbox
    assert ("syscalls" in areas) == sandbox.bwrap_available()  # the filter's line, where there is a sandbox
    failed = any(line.split()[0] == FAIL for line in out.stdout.splitlines() if line.startswith("  "))
    assert out.returncode == (1 if failed else 0)
    assert out.stdout.splitlines()[-1].startswith("NOT READY" if failed else "READY")
