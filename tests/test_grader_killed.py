"""A grader killed with SIGKILL (issue 21, item 7): nothing it started outlives it, and the next run
removes what it left on disk and in the cgroup hierarchy.

The graders here run a class whose notebooks sleep in their first cell, so their kernels (and the
kernels started ahead for the next submissions) are surely running when the grader is killed. Every
process of such a run is found by a marker: the grader gets a TMPDIR of its own, which its pool
workers inherit, which every working folder lives in, and which therefore appears in the command
line of every sandbox and runner and in the environment (HOME) of every kernel.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograde import paths
from autograde.running import cgroups, sandbox, sandbox_sweep

pytestmark = pytest.mark.slow  # grades a class, builds a venv or kills a grader: `make test-fast` leaves it out

A = paths.ASSIGNMENT
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
GRACE_S = 10  # how long after the kill nothing of the grader may be left
SLEEPER = "import time\ntime.sleep(600)"

needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_available(), reason="bubblewrap does not work here")


def marked(mark: str) -> list[psutil.Process]:
    """Live processes (zombies are dead) whose command line or environment names `mark`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(mark in arg for arg in proc.cmdline()) or any(mark in v for v in proc.environ().values()):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (is_running also checks the start time: a reused pid is not the same process)."""
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc)
        except psutil.Error:
            pass
    return left


def kernels(mark: str) -> list[psutil.Process]:
    return [p for p in marked(mark) if any("ipykernel" in arg for arg in _cmdline(p))]


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def own_cgroups(pids: set[int]) -> list[Path]:
    """Cgroups named after any of `pids` (the grader and what it started), whatever the name's format."""
    return [g for parent in cgroups.group_parents() for g in parent.glob("autograde-*")
            if any(g.name.startswith(f"autograde-{pid}-") for pid in pids)]


@pytest.fixture(scope="module")
def course_state(tmp_path_factory):
    """What every grader here finds ready, as after `autograde release` and an earlier grading: the
    gradebook (nbgrader builds a new one in a command of its own, which ends by itself and is not what
    these tests are about) and the cache of the solution's reference runs (computed by the first)."""
    from autograde.course import find_course
    from autograde.outputs import gradebook
    folder = tmp_path_factory.mktemp("state")
    course_id = find_course(paths.REPO_ROOT).course_id
    gradebook.create(f"sqlite:///{folder / 'gradebook.db'}", A, paths.REPO_ROOT, A, course_id)
    return folder / "cache", folder / "gradebook.db"


@pytest.fixture
def killed_grader(tmp_path, course_state):
    """kill(jobs, students, count): start `autograde grade --jobs JOBS` on a class of sleeping notebooks,
    wait until COUNT kernels run, SIGKILL the grader; returns (marker folder, processes it had started,
    the grader's pid). Whatever is left when the test ends is killed."""
    mark = tmp_path / "tmp"
    mark.mkdir()
    started: list[psutil.Process] = []

    def kill(jobs: int, students: int, count: int):
        sub = tmp_path / "submitted"
        for i in range(students):
            path = sub / f"student{i}" / A / f"{A}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(new_notebook(cells=[new_code_cell(SLEEPER)]), path)
        cache, db = course_state
        (tmp_path / "out").mkdir()
        shutil.copy(db, tmp_path / "out" / "gradebook.db")
        env = {**ENV, "TMPDIR": str(mark), "AUTOGRADE_CACHE": str(cache)}
        log = tmp_path / "grader.log"
        with open(log, "w") as out:
            grader = subprocess.Popen([sys.executable, "-m", "autograde.cli", "grade", str(sub), "--out",
                                       str(tmp_path / "out"), "--jobs", str(jobs), "--cell-timeout", "600",
                                       "--timeout", "900"], stdout=out, stderr=out, env=env, cwd=paths.REPO_ROOT)
        started.append(psutil.Process(grader.pid))
        deadline = time.monotonic() + 300
        while len(kernels(str(mark))) < count and grader.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert grader.poll() is None, log.read_text()
        assert len(kernels(str(mark))) >= count, f"fewer than {count} kernels ran within 300 s"
        started.extend(started[0].children(recursive=True) + marked(str(mark)))
        grader.send_signal(signal.SIGKILL)
        grader.wait()  # reaped, as the shell that ran it would
        return mark, list(started), grader.pid

    yield kill
    for proc in alive(started) + marked(str(mark)):  # today's leftovers, so that a failure costs nothing later
        try:
            proc.kill()
        except psutil.Error:
            pass


def left_after_grace(mark: Path, started: list[psutil.Process]) -> list[str]:
    """What is still alive GRACE_S after the kill, as 'pid name' (empty as soon as everything is gone)."""
    deadline = time.monotonic() + GRACE_S
    while (left := alive(started) + marked(str(mark))) and time.monotonic() < deadline:
        time.sleep(0.2)
    return sorted({f"{p.pid} {p.name()}" for p in alive(left)})


def next_run_sweeps(mark: Path) -> None:
    """What the next grader does first (sandbox.start_kernel): sweep once, in a fresh process."""
    code = "from autograde.running import sandbox_sweep; sandbox_sweep.sweep_once()"
    subprocess.run([sys.executable, "-c", code], env={**ENV, "TMPDIR": str(mark)}, check=True, timeout=120)


# --- a killed grader --------------------------------------------------------------------------------

@needs_bwrap
def test_nothing_a_killed_grader_started_at_jobs_2_is_alive_10_s_later(killed_grader):
    mark, started, _ = killed_grader(jobs=2, students=4, count=4)  # two notebooks running, two kernels ahead
    assert left_after_grace(mark, started) == []


@needs_bwrap
def test_nothing_a_killed_grader_started_at_jobs_1_is_alive_10_s_later(killed_grader):
    mark, started, _ = killed_grader(jobs=1, students=2, count=2)  # one notebook running, one kernel ahead
    assert left_after_grace(mark, started) == []


@needs_bwrap
def test_the_next_run_removes_the_folders_and_cgroups_of_a_killed_grader_and_its_kernels_ahead(killed_grader):
    mark, started, grader = killed_grader(jobs=2, students=4, count=4)
    # Two working folders of running notebooks and two of kernels started ahead, on the host's disk.
    assert len(list(mark.glob("autograde-*"))) == 4
    left_after_grace(mark, started)
    next_run_sweeps(mark)
    assert list(mark.glob("autograde-*")) == []
    assert own_cgroups({grader} | {p.pid for p in started}) == []


# --- the sweep: a grader run is its pid and its start time -----------------------------------------

@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc.pid
    proc.kill()
    proc.wait()


def dead_grader_with_the_pid_of(pid: int) -> str:
    """The owner name of a grader that had `pid` (now another process's) and started a minute earlier."""
    return f"{pid}-{sandbox_sweep.started(pid) - 6000}"


def test_leftovers_of_a_dead_grader_whose_pid_now_names_another_process_are_swept(tmp_path, sleeper):
    gone = tmp_path / f"autograde-{dead_grader_with_the_pid_of(sleeper)}-abc"
    kept = tmp_path / f"autograde-{sandbox_sweep.owner_of(sleeper)}-def"
    for folder in (gone, kept):
        folder.mkdir()
    assert sandbox_sweep.sweep_folders(tmp_path) == [gone]
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]


@pytest.mark.skipif(not cgroups.available(), reason="no writable cgroup hierarchy here")
def test_a_cgroup_of_a_dead_grader_is_removed_with_the_processes_still_in_it(sleeper):
    dead = dead_grader_with_the_pid_of(sleeper)
    groups = [parent / f"autograde-{dead}-sweeptest" for parent in cgroups.group_parents()]
    try:
        for group in groups:
            group.mkdir()
            (group / "cgroup.procs").write_text(str(sleeper))
        assert set(groups) <= set(sandbox_sweep.sweep_cgroups())  # (with any other dead grader's)
        assert not any(g.exists() for g in groups)
        assert not psutil.pid_exists(sleeper) or psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE
    finally:
        for group in groups:
            if group.exists():
                group.rmdir()


def test_processes_of_a_dead_graders_run_are_killed_by_the_sweep(sleeper):
    dead = dead_grader_with_the_pid_of(sleeper)
    orphan = subprocess.Popen(["sleep", "60"], env={"AUTOGRADE_RUN_ID": f"{dead}-0123abcd"})
    mine = subprocess.Popen(["sleep", "60"], env={"AUTOGRADE_RUN_ID": sandbox_sweep.new_run_id()})
    try:
        assert sandbox_sweep.kill_orphans() >= 1
        assert orphan.poll() is not None  # killed (and reaped by the sweep's wait: it is this process's child)
        assert mine.poll() is None
    finally:
        for proc in (orphan, mine):
            proc.kill()
            proc.wait()


# --- the processes in between: each dies with its parent ---------------------------------------------

def launch(*options: str, command=("sleep", "60")) -> list[str]:
    return [sys.executable, "-I", "-S", str(sandbox.LAUNCH), *options, "--", *command]


def test_a_launch_whose_parent_is_already_gone_runs_nothing():
    proc = subprocess.run(launch("--parent", str(os.getpid() + 10**7), command=("echo", "ran")),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL and proc.stdout == ""


def test_a_launched_command_dies_with_the_process_that_launched_it():
    """The middle process stands for a pool worker: killed, what it launched (here without bwrap) dies."""
    code = ("import os, subprocess, sys; "
            "p = subprocess.Popen([a.replace('PARENT', str(os.getpid())) for a in sys.argv[1:]]); "
            "print(p.pid, flush=True); p.wait()")
    middle = subprocess.Popen([sys.executable, "-c", code, *launch("--parent", "PARENT")], stdout=subprocess.PIPE,
                              text=True)
    child = psutil.Process(int(middle.stdout.readline()))
    middle.kill()
    middle.wait()
    gone, _ = psutil.wait_procs([child], timeout=GRACE_S)
    assert gone == [child]
