"""Initialisation helpers: better activations, Kaiming init, LSUV and the lesson's conv model."""
import gc

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from .activations import Hook
from .conv import def_device
from .learner import Callback, to_cpu

__all__ = ['clean_mem', 'GeneralRelu', 'plot_func', 'init_weights', 'conv', 'get_model', 'BatchTransformCB',
           'lsuv_init']


def clean_mem():
    "Free memory held by dead Python objects and PyTorch's CUDA cache (e.g. after an out-of-memory error)."
    gc.collect()
    if torch.cuda.is_available(): torch.cuda.empty_cache()


class GeneralRelu(nn.Module):
    "ReLU with an optional leak, a shift down by `sub` (to centre the mean) and a cap at `maxv`."
    def __init__(self, leak=None, sub=None, maxv=None):
        super().__init__()
        self.leak, self.sub, self.maxv = leak, sub, maxv

    def forward(self, x):
        x = F.leaky_relu(x, self.leak) if self.leak else F.relu(x)
        if self.sub is not None: x = x - self.sub
        if self.maxv is not None: x = x.clamp_max(self.maxv)
        return x


def plot_func(f, start=-5., end=5., steps=100):
    "Plot `f` over [start, end] to see an activation's shape."
    x = torch.linspace(start, end, steps)
    with torch.no_grad(): y = f(x)
    fig, ax = plt.subplots()
    ax.plot(x.numpy(), to_cpu(y).float().numpy())
    ax.grid(True, which='both', ls='--')
    ax.axhline(y=0, color='k', linewidth=0.7)
    ax.axvline(x=0, color='k', linewidth=0.7)


def init_weights(m, leaky=0.):
    """Kaiming-normal init for conv weights (use with `model.apply`); `leaky` is the ReLU's slope.
    Convolutions only, as in the course: linear layers keep PyTorch's default init."""
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)): nn.init.kaiming_normal_(m.weight, a=leaky)


_batchnorms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

def _is_batchnorm(norm):
    "`norm` is a layer class (or a partial of one); BatchNorm has its own shift, so conv bias is redundant."
    cls = getattr(norm, 'func', norm)  # see through functools.partial
    return isinstance(cls, type) and issubclass(cls, _batchnorms)


def conv(ni, nf, ks=3, stride=2, act=nn.ReLU, norm=None, bias=None):
    "Conv2d (same padding), then optional `norm(nf)` and `act()`."
    if bias is None: bias = not _is_batchnorm(norm)
    layers = [nn.Conv2d(ni, nf, kernel_size=ks, stride=stride, padding=ks // 2, bias=bias)]
    if norm: layers.append(norm(nf))
    if act: layers.append(act())
    return nn.Sequential(*layers)


def get_model(act=nn.ReLU, nfs=None, norm=None):
    "The lesson's CNN, on `def_device`: stride-2 convs through `nfs`, then a conv to 10 logits (28x28 in: (N, 10) out)."
    if nfs is None: nfs = [1, 8, 16, 32, 64]
    layers = [conv(nfs[i], nfs[i + 1], act=act, norm=norm) for i in range(len(nfs) - 1)]
    # The head has no norm and no activation: its outputs are the logits.
    return nn.Sequential(*layers, conv(nfs[-1], 10, act=None, norm=False, bias=True), nn.Flatten()).to(def_device)


class BatchTransformCB(Callback):
    "Applies `tfm` to the whole batch before each step (e.g. normalisation or augmentation)."
    def __init__(self, tfm, on_train=True, on_val=True): self.tfm, self.on_train, self.on_val = tfm, on_train, on_val

    def before_batch(self, learn):
        if (self.on_train and learn.training) or (self.on_val and not learn.training):
            learn.batch = self.tfm(learn.batch)


def _lsuv_stats(hook, mod, inp, outp):
    acts = to_cpu(outp).float()
    hook.mean = acts.mean().item()
    hook.std = acts.std().item()


_LSUV_TOL, _LSUV_MAX_ITER = 1e-3, 50

def lsuv_init(model, m, m_in, xb):
    """Layer-sequential unit-variance init: rescale `m_in`'s weight and shift its bias until
    `m`'s output on `xb` has mean ~0 and std ~1 (gives up after a bounded number of passes)."""
    h = Hook(m, _lsuv_stats)
    try:
        with torch.no_grad():
            for _ in range(_LSUV_MAX_ITER):
                model(xb)
                if abs(h.mean) < _LSUV_TOL and abs(h.std - 1) < _LSUV_TOL: break
                if not h.std > 1e-8: break  # dead (or nan) output: rescaling would only divide by zero
                if m_in.bias is not None: m_in.bias -= h.mean
                m_in.weight /= h.std
    finally: h.remove()
