"""Seeding and forward hooks for looking inside a network while it trains."""
import random
from functools import partial

import fastcore.all as fc
import numpy as np
import torch

from .datasets import get_grid, show_image, subplots
from .learner import Callback, to_cpu

__all__ = ['set_seed', 'Hook', 'Hooks', 'HooksCallback', 'append_stats', 'get_hist', 'get_min', 'ActivationStats']


def set_seed(seed, deterministic=False):
    "Seed every RNG the lesson touches so runs (and autograded answers) are repeatable."
    torch.use_deterministic_algorithms(deterministic)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    random.seed(seed)
    np.random.seed(seed)


class Hook:
    "A forward hook calling `f(hook, module, input, output)`, so `f` can keep state on the hook."
    def __init__(self, m, f): self.hook = m.register_forward_hook(partial(f, self))
    def remove(self):
        if getattr(self, 'hook', None) is not None: self.hook.remove()
    def __del__(self): self.remove()


class Hooks(list):
    "One `Hook` per module; as a context manager it removes them all on exit."
    def __init__(self, ms, f): super().__init__([Hook(m, f) for m in ms])
    def __enter__(self, *args): return self
    def __exit__(self, *args): self.remove()
    def __del__(self): self.remove()

    def __delitem__(self, i):
        self[i].remove()
        super().__delitem__(i)

    def remove(self):
        for h in self: h.remove()


class HooksCallback(Callback):
    "Hooks the chosen modules for the length of a fit, calling `hookfunc` only in the chosen phases."
    def __init__(self, hookfunc, mod_filter=fc.noop, on_train=True, on_valid=False, mods=None):
        self.hookfunc, self.mod_filter, self.mods = hookfunc, mod_filter, mods
        self.on_train, self.on_valid = on_train, on_valid
        self.hooks = Hooks([], hookfunc)

    def before_fit(self, learn):
        mods = self.mods if self.mods is not None else [m for m in learn.model.modules() if self.mod_filter(m)]
        self.hooks.remove()
        self.hooks = Hooks(mods, partial(self._hookfunc, learn))

    def _hookfunc(self, learn, *args, **kwargs):
        if (self.on_train and learn.training) or (self.on_valid and not learn.training): self.hookfunc(*args, **kwargs)

    def after_fit(self, learn): self.hooks.remove()
    # Also on cancelled fits (e.g. `SingleBatchCB`), which skip after_fit; removing twice is harmless.
    def cleanup_fit(self, learn): self.hooks.remove()
    def __iter__(self): return iter(self.hooks)
    def __len__(self): return len(self.hooks)


def append_stats(hook, mod, inp, outp):
    "Record mean, std and a 40-bin histogram of |activations| (0..10) for each batch."
    if not hasattr(hook, 'stats'): hook.stats = ([], [], [])
    acts = to_cpu(outp).float()
    hook.stats[0].append(acts.mean())
    hook.stats[1].append(acts.std())
    hook.stats[2].append(abs_histogram(acts))


def abs_histogram(acts):
    """`acts.abs().histc(40, 0, 10)`, the same counts (tests/test_activations.py) in a fraction of the
    time on the CPU, where torch's histc on every batch of the lesson's model (1024 images, four
    GeneralRelu layers) added a noticeable share to each epoch. Compare the two on your machine with
    `python -m timeit` over `torch.randn(1024, 8, 14, 14)`."""
    q = acts.abs().mul_(4)  # bins are 0.25 wide: a bin is the integer part (times 4 is exact)
    q = torch.where(q <= 40, q, 41).to(torch.uint8).flatten()  # above 10, inf and NaN: to bin 41, dropped
    counts = torch.bincount(q, minlength=42).float()
    counts[39] += counts[40]  # as in histc, exactly 10 counts in the last bin
    return counts[:40]


def _hists(h): return torch.stack(h.stats[2]).t().float()  # (40 bins, n batches)

def get_hist(h):
    """Histograms as an image, log counts: one column per batch, row 0 the smallest activations. As in
    the course, draw it with `origin='lower'` so the smallest are at the bottom."""
    return _hists(h).log1p()

def get_min(h):
    "Per batch, the fraction of (in-range) activations in the lowest bin, i.e. (nearly) dead."
    h1 = _hists(h)
    return h1[0] / h1.sum(0)


class ActivationStats(HooksCallback):
    "Collects `append_stats` for the modules picked by `mod_filter`, with plots to diagnose training."
    def __init__(self, mod_filter=fc.noop): super().__init__(append_stats, mod_filter)

    def color_dim(self, figsize=(11, 5)):
        "Histogram of each layer's activations over training (brighter = more activations)."
        fig, axs = get_grid(len(self), figsize=figsize)
        for ax, h in zip(axs.flat, self): show_image(get_hist(h), ax, origin='lower', aspect='auto')

    def dead_chart(self, figsize=(11, 5)):
        "Fraction of near-zero activations per layer over training."
        fig, axs = get_grid(len(self), figsize=figsize)
        for ax, h in zip(axs.flat, self):
            ax.plot(get_min(h).numpy())
            ax.set_ylim(0, 1)

    def plot_stats(self, figsize=(10, 4)):
        "Means and standard deviations of each layer's activations over training."
        fig, axs = subplots(1, 2, figsize=figsize)
        for h in self:
            for i in 0, 1: axs[i].plot(torch.stack(h.stats[i]).numpy())
        axs[0].set_title('Means')
        axs[1].set_title('Stdevs')
        axs[1].legend(range(len(self)))
