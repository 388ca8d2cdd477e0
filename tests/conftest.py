"""Shared fixtures: a small real FashionMNIST subset, the demo graded once in a clone of the working tree,
and offline, headless settings for every test."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault('HF_DATASETS_OFFLINE', '1')  # tests never reach for the hub
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import matplotlib
matplotlib.use('Agg')  # headless: plotting code must run without a display
import matplotlib.pyplot as plt
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from autograde import paths
from miniai.datasets import DataLoaders

# These models are tiny: on a shared 2-core box, torch's intra-op threads mostly fight each other
# (measured: the suite took 55 s with the default threads under load, 10 s with one). OMP_NUM_THREADS wins.
if 'OMP_NUM_THREADS' not in os.environ:
    torch.set_num_threads(1)

N_TRAIN, N_VALID = 2000, 1000


@pytest.fixture(scope='session')
def fmnist():
    """(x_train, y_train, x_valid, y_valid): 2,000 train and 1,000 test real images, class-balanced and
    normalised, N x 1 x 28 x 28, from the sample committed with miniai (present on every machine)."""
    from miniai.datasets import fashion_tensors
    return (*fashion_tensors('train', sample=True, n=N_TRAIN), *fashion_tensors('test', sample=True, n=N_VALID))


@pytest.fixture
def make_dls(fmnist):
    "make_dls(bs, n_train=None, n_valid=None, valid_bs=None): DataLoaders over (a prefix of) the subset."
    xt, yt, xv, yv = fmnist
    def _make(bs=64, n_train=None, n_valid=None, valid_bs=None, shuffle=True):
        g = torch.Generator().manual_seed(0)
        trn = TensorDataset(xt[:n_train], yt[:n_train])
        val = TensorDataset(xv[:n_valid], yv[:n_valid])
        return DataLoaders(DataLoader(trn, bs, shuffle=shuffle, generator=g),
                           DataLoader(val, valid_bs or bs * 2, shuffle=False))
    return _make


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close('all')


@pytest.fixture(autouse=True)
def _no_kernel_started_ahead_outlives_its_test():
    """A test that grades in this process may leave the next submission's kernel started ahead
    (running/ahead.py); closed here, it cannot be handed to the next test nor counted in its cgroups."""
    yield
    from autograde.running import ahead
    ahead.close()


REPO = paths.REPO_ROOT
# The clone must run its own code, not the checkout that pip installed in editable mode.
WITHOUT_EDITABLE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
                    "if 'editable' not in getattr(f, '__module__', '')]; ")


def clone_of_the_working_tree(target: Path) -> Path:
    """`git clone` of this repository with the working tree's changes committed on top: a fresh clone of the
    code under test (in CI the same as the last commit; on a developer's machine, what they changed too)."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True, capture_output=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src, dst = REPO / name, target / name
        if src.is_file() and not src.is_symlink():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif not src.exists() and dst.is_file():
            dst.unlink()  # deleted in the working tree, not yet in a commit
    git = ["git", "-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    subprocess.run(git + ["add", "-A"], cwd=target, check=True, capture_output=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "the working tree"], cwd=target, check=True,
                   capture_output=True)
    return target


@pytest.fixture(scope="session")
def demo_in_a_clone():
    """`autograde demo` (what `make demo` runs) in a clone of the working tree, once per session: the sample
    class released and graded into CLONE/out/demo. Returns (clone, the finished process).

    The clone is readable by other accounts, as the README asks of a course checkout (pytest's own
    temporary folders are not). Its kernels import the clone's code (the grader gives them its checkout's
    PYTHONPATH); test_cli checks the grades, since a demo whose kernels cannot import still exits 0."""
    root = Path(tempfile.mkdtemp(prefix="demo-clone-"))
    root.chmod(0o755)
    try:
        clone = clone_of_the_working_tree(root / "clone")
        env = {**os.environ, "PYTHONPATH": str(clone), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        proc = subprocess.run([sys.executable, "-c", WITHOUT_EDITABLE + "from autograde.cli import main; "
                               "raise SystemExit(main(['demo']))"], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=1500)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        yield clone, proc
    finally:
        shutil.rmtree(root, ignore_errors=True)
