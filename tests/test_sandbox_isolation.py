"""What a student's kernel can see and forge (issue 14, items 2-5): an allowlist sandbox, an
unprivileged kernel, a capped working folder, and a status the kernel cannot write.

Small real notebooks in the real sandbox, with the grader's own views (grade._sandbox_views);
no torch. About 2-4 s each."""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograde import paths
from autograde.trusted import grade
from autograde.running import kernel_users, sandbox
from autograde.running.sandbox import Limits, run_notebook

needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_available(), reason="bwrap is not usable here")
LIMITS = Limits(wall_s=60, cell_s=30, memory_bytes=4 * 2**30)
SOLUTION = "class SGD:  # DECOY: the solution a student must not read\n    pass\n"


def run(tmp_path: Path, *sources: str, limits: Limits = LIMITS, **kw):
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    return run_notebook(nb, workdir, limits=limits, **kw)


def graders_run(tmp_path: Path, *sources: str, **kw):
    """Run as grade_submission does: the course's student-visible modules exposed, nothing else."""
    hide, expose = grade._sandbox_views()
    return run(tmp_path, *sources, hide=hide, expose=expose, **kw)


def text(result, index: int) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in result.notebook["cells"][index].get("outputs", []))


@pytest.fixture
def decoys(tmp_path):
    """A copy of the solutions notebook where instructors keep clones: a home folder, a sibling of the
    repository, the host's /tmp, /srv and /root. Removed afterwards."""
    tag = f"h1-decoy-{uuid.uuid4().hex[:8]}"
    roots = [Path("/home") / tag, paths.REPO_ROOT.parent / tag, tmp_path / tag, Path("/srv") / tag,
             Path("/root") / tag]
    made = []
    try:
        for root in roots:
            path = root / "course" / "solutions" / "accel_sgd" / "accel_sgd.ipynb"
            try:
                path.parent.mkdir(parents=True)
            except OSError:  # not writable here (not root): that place is then not planted
                continue
            path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": SOLUTION}]}))
            os.chmod(path, 0o644)
            made.append(path)
        assert len(made) >= 2
        yield made
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


READ_ALL = """import json
for path in {paths!r}:
    try:
        print('READ' if 'DECOY' in open(path).read() else 'empty')
    except OSError as e:
        print(type(e).__name__)
"""


@needs_bwrap
def test_a_solutions_copy_elsewhere_on_the_machine_cannot_be_read(tmp_path, decoys):
    assert all("DECOY" in p.read_text() for p in decoys)  # readable on the host, by the grader
    result = graders_run(tmp_path, READ_ALL.format(paths=[str(p) for p in decoys]))
    assert result.status == "ok", result.message
    assert text(result, 0).split() == ["FileNotFoundError"] * len(decoys)


@needs_bwrap
def test_the_course_repository_shows_only_the_student_visible_modules(tmp_path):
    root = paths.REPO_ROOT
    result = graders_run(tmp_path, f"import os\nprint(sorted(os.listdir({str(root / 'autograde')!r})))\n"
                         f"print(os.listdir({str(root / 'autograde' / 'running')!r}))",
                         f"print(os.path.exists({str(root / 'solutions')!r}), os.path.exists({str(root / 'tests')!r}))",
                         "import autograde.visible.lesson, autograde.visible.probe, miniai.datasets\nprint('imported')",
                         "try:\n    import autograde.trusted\nexcept ImportError as e:\n    print(e)")
    assert result.status == "ok", result.message
    package, running = text(result, 0).splitlines()
    # Whole folders: the package's __init__, visible/, and running/inside/ (the notebook runner).
    assert set(eval(package)) == {"__init__.py", "visible", "running"}
    assert eval(running) == ["inside"]
    assert text(result, 1) == "False False\n"
    assert text(result, 2) == "imported\n"
    assert text(result, 3) == "No module named 'autograde.trusted'\n"


@needs_bwrap
def test_the_kernel_is_not_root_and_cannot_read_etc_shadow(tmp_path):
    result = run(tmp_path, "import os\nprint(os.getuid(), os.getgid())",
                 "print(os.path.exists('/etc/shadow'))")
    assert result.status == "ok", result.message
    uid, gid = map(int, text(result, 0).split())
    assert uid != 0 and gid != 0
    if os.geteuid() == 0:  # a uid of its own, from the block no user database names (tests/test_keyring.py)
        assert kernel_users.FIRST <= uid <= kernel_users.LAST and gid == uid
    else:
        assert uid == sandbox.kernel_uid()
    assert text(result, 1) == "False\n"


@needs_bwrap
def test_host_folders_outside_the_allowlist_do_not_exist(tmp_path):
    (tmp_path / "host-file").write_text("host")
    result = run(tmp_path, "import os\nprint([p for p in ['/home', '/srv', '/mnt', '/opt', '/root/.bashrc', "
                           f"{str(tmp_path / 'host-file')!r}] if os.path.exists(p)])")
    assert text(result, 0) == "[]\n"


@needs_bwrap
def test_the_working_folder_is_capped_and_the_cell_that_fills_it_is_named(tmp_path):
    result = run(tmp_path, "open('big', 'wb').write(b'x' * 20 * 2**20)", "print('next')",
                 limits=Limits(wall_s=60, cell_s=30, memory_bytes=4 * 2**30, disk_bytes=8 * 2**20))
    assert result.cell_errors[0].startswith("OSError: [Errno 28] No space left on device")
    assert result.full_cells == {0: ["working folder"]}
    assert "Cell #1 (`open('big', 'wb').write(b'x' * 20 * 2**20)`) filled working folder to its size cap" \
        in result.message
    assert text(result, 1) == "next\n"


FORGE_STATUS = """import json, os, pathlib, sys
forged = {"status": "error", "error": "FORGED by the kernel", "cell_errors": {}, "cell_seconds": {}}
for folder in [os.getcwd(), os.environ['AUTOGRADE_PROBE_DIR'], '/tmp']:
    pathlib.Path(folder, 'out.ipynb.status.json').write_text(json.dumps(forged))
    pathlib.Path(folder, 'out.ipynb').write_text(json.dumps({"cells": [], "metadata": {"FORGED": 1}}))
line = json.dumps({"event": "end", "status": "error", "cell": None, "error": "FORGED by the kernel"}) + "\\n"
os.write(1, line.encode()); os.write(2, line.encode())
try:
    with open(f'/proc/{os.getppid()}/fd/1', 'w') as runner_stdout:
        runner_stdout.write(line)
    print('wrote to the runner')
except OSError as e:  # one write: the kernel forwards fd 1's forged line beside it, in any order
    sys.stdout.write(f'runner pipe: {type(e).__name__}\\n')
"""


@needs_bwrap
def test_a_forged_status_or_notebook_changes_nothing(tmp_path):
    result = run(tmp_path, FORGE_STATUS, "print('last')")
    assert result.status == "ok", result.message
    assert "FORGED" not in result.message and "FORGED" not in json.dumps(result.notebook["metadata"])
    assert "runner pipe: PermissionError\n" in text(result, 0)  # the forged line may arrive before or after it
    assert text(result, 1) == "last\n"


@needs_bwrap
def test_a_kernel_that_kills_its_runner_gets_a_dead_kernel_not_a_grader_error(tmp_path):
    result = run(tmp_path, "print('first')", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                 "print('never')")
    assert result.status == "dead"
    assert result.message.startswith("The run stopped while running cell #2 (`import os, signal`)")
    assert result.cell_errors == {1: "the kernel died"}
    assert result.notebook["cells"][0]["outputs"][0]["text"] == "first\n"


PLANT_PROBES = """import os
d = os.environ['AUTOGRADE_PROBE_DIR']
os.symlink({target!r}, os.path.join(d, 'test_link.json'))
os.mkfifo(os.path.join(d, 'test_fifo.json'))
os.mkdir(os.path.join(d, 'test_dir.json'))
open(os.path.join(d, 'test_big.json'), 'wb').write(b'1' * (21 * 2**20))
open(os.path.join(d, 'Test_Upper.json'), 'w').write('1')
open(os.path.join(d, 'test_ok.json'), 'w').write('{{"ok": true}}')
"""


@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=needs_bwrap), "fallback"])
def test_probe_files_are_read_without_following_links(tmp_path, monkeypatch, mode):
    if mode == "fallback":
        monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    host_file = tmp_path / "grader_cache.json"
    host_file.write_text('{"secret": "the reference data"}')
    target = str(host_file) if mode == "fallback" else "/etc/passwd"  # inside, the host file does not exist
    with pytest.warns(RuntimeWarning) if mode == "fallback" else _nothing():
        result = run(tmp_path, PLANT_PROBES.format(target=target))
    assert result.status == "ok", result.message
    assert result.probes == {"test_ok": b'{"ok": true}'}


def _nothing():
    import contextlib
    return contextlib.nullcontext()
