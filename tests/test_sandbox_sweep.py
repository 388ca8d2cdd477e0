"""Leftovers of a killed grading run (issue 14, item 8): its /tmp/autograde-* folders and cgroups are
removed by the next run; those of live graders stay."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from autograde.running import cgroups, sandbox_sweep


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_folders_of_dead_graders_go_and_those_of_live_ones_stay(tmp_path, live_pid):
    dead = tmp_path / f"autograde-{dead_pid()}-abc"
    live = tmp_path / f"autograde-{live_pid}-def"
    mine = tmp_path / f"{sandbox_sweep.workdir_prefix()}ghi"
    old = tmp_path / "autograde-check-old"  # no owner in the name: goes by age
    recent = tmp_path / "autograde-check-recent"
    other = tmp_path / "somebody-else"
    for folder in (dead, live, mine, old, recent, other):
        (folder / "probe").mkdir(parents=True)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert sorted(sandbox_sweep.sweep_folders(tmp_path)) == sorted([dead, old])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, mine, recent, other))


def test_a_link_named_like_a_leftover_is_not_followed(tmp_path):
    target = tmp_path / "keep"
    (target / "inner").mkdir(parents=True)
    (tmp_path / f"autograde-{dead_pid()}-link").symlink_to(target)
    assert sandbox_sweep.sweep_folders(tmp_path) == []
    assert (target / "inner").is_dir()


def test_the_working_folder_prefix_names_this_process():
    assert sandbox_sweep.workdir_prefix() == f"autograde-{os.getpid()}-{sandbox_sweep.started(os.getpid())}-"


@pytest.mark.skipif(not cgroups.available(), reason="no writable cgroup hierarchy here")
def test_empty_cgroups_of_dead_graders_are_removed_and_live_ones_kept():
    parents = cgroups.group_parents()
    stale = [parent / f"autograde-{dead_pid()}-sweeptest" for parent in parents]
    for group in stale:
        group.mkdir()
    live = cgroups.SubmissionCgroup.create(processes=8, cpus=None)  # named after this process
    try:
        removed = sandbox_sweep.sweep_cgroups()
        assert sorted(removed) == sorted(stale)
        assert not any(g.exists() for g in stale)
        assert all(d.is_dir() for d in live.dirs)
    finally:
        live.close()
        for group in stale:
            if group.exists():
                group.rmdir()
