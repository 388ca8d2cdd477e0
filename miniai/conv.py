"""Convolutions: the `conv` building block, and the device helpers that put the model and its batches
on the best available device."""
from collections.abc import Mapping

import torch
from torch import nn
from torch.utils.data import default_collate

__all__ = ['conv', 'def_device', 'describe_device', 'to_device', 'collate_device']


def conv(ni, nf, ks=3, stride=2, act=True):
    """A `ks`×`ks` convolution from `ni` to `nf` channels; padding `ks//2` keeps the size at stride 1 and
    halves it at stride 2. With `act`, a ReLU follows it. (`miniai.init` has the lesson's fuller version.)"""
    layer = nn.Conv2d(ni, nf, kernel_size=ks, stride=stride, padding=ks // 2)
    return nn.Sequential(layer, nn.ReLU()) if act else layer

# Prefer a GPU, then Apple silicon, then the CPU, so the same notebook runs anywhere.
def_device = ('cuda' if torch.cuda.is_available()
              else 'mps' if torch.backends.mps.is_available()
              else 'cpu')


def describe_device(device=def_device):
    """Where training runs, in words: 'cuda (NVIDIA H100 80GB HBM3)', 'mps (Apple silicon GPU)' or
    'cpu (no GPU found)'. The lesson prints it first: the same training run is many times slower on a CPU."""
    device = torch.device(device)
    if device.type == 'cuda': return f'cuda ({torch.cuda.get_device_name(device)})'
    if device.type == 'mps': return 'mps (Apple silicon GPU)'
    gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    return device.type if gpu else f'{device.type} (no GPU found)'


def to_device(x, device=def_device):
    "Move a tensor, or every tensor inside a dict/list/tuple, to `device` (other values pass through)."
    if isinstance(x, torch.Tensor): return x.to(device)
    if isinstance(x, Mapping): return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, list): return [to_device(o, device) for o in x]
    if isinstance(x, tuple):
        res = [to_device(o, device) for o in x]
        return type(x)(*res) if hasattr(x, '_fields') else type(x)(res)  # namedtuples take fields positionally
    return x


def collate_device(b):
    "A DataLoader `collate_fn` that builds the batch and puts it on `def_device` in one go."
    return to_device(default_collate(b))
