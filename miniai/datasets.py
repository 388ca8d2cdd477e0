"""What the lesson's data cells use: `inplace` transforms, `collate_dict`, `DataLoaders` (with
`from_dd` over a Hugging Face `DatasetDict`) and small plotting helpers.

FashionMNIST itself (finding it offline, the hub-shaped `DatasetDict`, the all-tensor path) lives in
`miniai.fashion`; its names are re-exported here, loaded on first use, so importing this module
loads no data and not even the Hugging Face `datasets` library.
"""
from __future__ import annotations

import math
from functools import wraps

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

from .fastdata import CachingLoader, HFSplit

_FASHION = ['FASHION_NAMES', 'IDXError', 'DataNotFoundError', 'Source', 'read_idx', 'load_fashion_mnist',
            'fashion_tensors', 'tensor_dls']
__all__ = ['inplace', 'collate_dict', 'DataLoaders', 'show_image', 'subplots', 'get_grid', 'show_images', *_FASHION]


def __getattr__(name):
    "The FashionMNIST helpers, imported from `miniai.fashion` when first asked for."
    if name in _FASHION:
        from . import fashion
        return getattr(fashion, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def inplace(f):
    "Turn a function that mutates its argument into one that also returns it (handy for `with_transform`)."
    @wraps(f)  # keeps the name, so a module-level transform still pickles for DataLoader workers
    def _inner(b):
        f(b)
        return b
    return _inner


class _DictCollate:
    "A class rather than a closure, so DataLoader workers started with spawn/forkserver can pickle it."
    def __init__(self, keys): self.keys = list(keys)
    def __call__(self, rows):
        batch = default_collate(rows)
        return tuple(batch[k] for k in self.keys)


def collate_dict(ds):
    "Collate function that batches dict rows of `ds` and returns the columns as a tuple, in `ds.features` order."
    return _DictCollate(ds.features)


def _pick_valid_split(dd):
    "The split used for validation: 'valid', 'validation' or 'test' if present, else the first non-train one."
    for name in ('valid', 'validation', 'test'):
        if name in dd: return name
    others = [k for k in dd if k != 'train']
    if not others: raise ValueError(f"need a second split besides 'train', got {list(dd)}")
    return others[0]


def _is_hf_dataset(ds): return all(hasattr(ds, a) for a in ('features', 'with_transform', '__getitems__'))


class DataLoaders:
    "Holds a training and a validation DataLoader (the first two given)."
    def __init__(self, *dls):
        if len(dls) < 2: raise ValueError(f"DataLoaders needs at least two loaders (train, valid), got {len(dls)}")
        self.train, self.valid = dls[:2]

    @classmethod
    def from_dd(cls, dd, batch_size, as_tuple=True, *, cache=True, **kwargs):
        """Loaders over a `DatasetDict`: 'train' shuffled at `batch_size`, the other split at twice that
        (no gradients are kept when validating, so bigger batches fit). `kwargs` go to `DataLoader`.
        Batches are read whole and, unless the transform draws random numbers or `cache=False`, each row
        is transformed only once (see `miniai.fastdata` for why and what it measured)."""
        if 'train' in dd: train, valid = dd['train'], dd[_pick_valid_split(dd)]
        else: train, valid = list(dd.values())[:2]  # no 'train' split: take the first two, in order
        if _is_hf_dataset(train) and _is_hf_dataset(valid):
            keys = list(train.features) if as_tuple else None
            return cls(CachingLoader(HFSplit(train), batch_size, keys, cache, shuffle=True, **kwargs),
                       CachingLoader(HFSplit(valid), batch_size * 2, keys, cache, shuffle=False, **kwargs))
        collate = collate_dict(train) if as_tuple else default_collate
        return cls(DataLoader(train, batch_size=batch_size, shuffle=True, collate_fn=collate, **kwargs),
                   DataLoader(valid, batch_size=batch_size * 2, shuffle=False, collate_fn=collate, **kwargs))


def _to_hwc(im):
    "Anything image-like (tensor C×H×W or H×W, array, PIL image) as a numpy array matplotlib can draw."
    if isinstance(im, torch.Tensor):
        im = im.detach().cpu()
        if im.ndim == 3 and im.shape[0] in (1, 3, 4) and im.shape[-1] not in (3, 4): im = im.permute(1, 2, 0)
        im = im.numpy()
    else:
        im = np.asarray(im)
    if im.ndim == 3 and im.shape[-1] == 1: im = im[..., 0]
    return im


def show_image(im, ax=None, figsize=None, title=None, noframe=True, **kwargs):
    "Draw one image on `ax` (a new one if None) without ticks; `kwargs` go to `imshow`. Returns the axes."
    if ax is None: _, ax = plt.subplots(figsize=figsize)
    ax.imshow(_to_hwc(im), **kwargs)
    if title is not None: ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if noframe: ax.axis('off')
    return ax


def subplots(nrows=1, ncols=1, figsize=None, imsize=3, suptitle=None, **kwargs):
    "`plt.subplots` sized at `imsize` inches per image; `axs` is always an array, even for one plot."
    if figsize is None: figsize = (ncols * imsize, nrows * imsize)
    fig, axs = plt.subplots(nrows, ncols, figsize=figsize, **kwargs)
    if suptitle is not None: fig.suptitle(suptitle)
    if nrows * ncols == 1: axs = np.array([axs])
    return fig, axs


def get_grid(n, nrows=None, ncols=None, title=None, weight='bold', size=14, **kwargs):
    "A grid with room for `n` images (close to square unless told), spare axes hidden. Returns (fig, axs)."
    if nrows: ncols = ncols or math.ceil(n / nrows)
    elif ncols: nrows = math.ceil(n / ncols)
    else:
        nrows = max(1, int(math.sqrt(n)))
        ncols = math.ceil(n / nrows)
    fig, axs = subplots(nrows, ncols, **kwargs)
    for ax in axs.flat[n:]: ax.set_axis_off()
    if title is not None: fig.suptitle(title, weight=weight, size=size)
    return fig, axs


def show_images(ims, nrows=None, ncols=None, titles=None, **kwargs):
    "Show a list of images in a grid, optionally titled; `kwargs` go to `get_grid`. Returns the axes."
    ims = list(ims)
    titles = list(titles) if titles is not None else [None] * len(ims)
    _, axs = get_grid(len(ims), nrows, ncols, **kwargs)
    for im, t, ax in zip(ims, titles, axs.flat): show_image(im, ax=ax, title=t)
    return axs
