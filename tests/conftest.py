"""Shared fixtures: a small real FashionMNIST subset, and offline, headless settings for every test."""
import os

os.environ.setdefault('HF_DATASETS_OFFLINE', '1')  # tests never reach for the hub
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import matplotlib
matplotlib.use('Agg')  # headless: plotting code must run without a display
import matplotlib.pyplot as plt
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

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
