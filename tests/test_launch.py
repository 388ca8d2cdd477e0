"""launch.py, in front of every kernel: limits and cgroups are set in a fresh process before exec."""
import subprocess
import sys

from autograde.running import sandbox

SHOW = "import os, resource; print(os.getpid(), *resource.getrlimit(resource.RLIMIT_AS), *resource.getrlimit(resource.RLIMIT_CORE))"


def launch(*options, code=SHOW):
    return subprocess.run([sys.executable, "-I", "-S", str(sandbox.LAUNCH), *options, "--", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)


def test_the_command_runs_under_the_memory_limit_and_without_core_dumps():
    proc = launch("--memory", str(6 * 2**30))
    assert proc.returncode == 0, proc.stderr
    _, soft, hard, core_soft, core_hard = map(int, proc.stdout.split())
    assert (soft, hard, core_soft, core_hard) == (6 * 2**30, 6 * 2**30, 0, 0)


def test_memory_zero_leaves_the_address_space_unlimited():
    _, soft, _, _, _ = map(int, launch("--memory", "0").stdout.split())
    assert soft == -1  # RLIM_INFINITY


def test_the_command_itself_is_written_into_each_cgroup(tmp_path):
    groups = [tmp_path / "pids", tmp_path / "cpu"]
    for g in groups:
        g.mkdir()
    proc = launch("--cgroup", str(groups[0]), "--cgroup", str(groups[1]))
    pid = proc.stdout.split()[0]  # exec keeps the pid: the kernel is the process that joined
    assert [(g / "cgroup.procs").read_text() for g in groups] == [pid, pid]


def test_a_cgroup_that_cannot_be_joined_stops_the_launch_with_a_clear_message(tmp_path):
    proc = launch("--cgroup", str(tmp_path / "missing"))
    assert proc.returncode == 70 and proc.stdout == ""
    assert proc.stderr.startswith("autograde launch: could not start the kernel: [Errno 2] No such file")
