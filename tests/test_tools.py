"""Every script in tools/ imports cleanly and answers --help with exit status 0, without writing anything.

Each runs as a real subprocess from a scratch working directory; the repository and that directory are
compared before and after, so a tool that rebuilds its output before parsing its arguments is caught.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = sorted((ROOT / 'tools').glob('*.py'))


def snapshot(folder):
    "Every file under `folder` (but .git and caches) with its size and modification time."
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob('*')
            if p.is_file() and '.git' not in p.parts and '__pycache__' not in p.parts and '.pytest_cache' not in p.parts
            and not p.is_relative_to(ROOT / '.venv')}


def test_there_are_tools_to_check():
    assert {p.name for p in TOOLS} >= {'make_fashion_sample.py', 'make_samples.py'}


@pytest.mark.parametrize('tool', TOOLS, ids=lambda p: p.name)
def test_tool_answers_help_without_writing(tool, tmp_path):
    watched = [ROOT / 'tools', ROOT / 'miniai', ROOT / 'autograde' / 'samples', ROOT / 'lessons']
    before = {d: snapshot(d) for d in watched}
    res = subprocess.run([sys.executable, str(tool), '--help'], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith('usage: ')
    assert list(tmp_path.iterdir()) == []
    assert {d: snapshot(d) for d in watched} == before
