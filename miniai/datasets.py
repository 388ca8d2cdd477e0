"""What the lesson's data cells use: `inplace` transforms, `collate_dict`, `DataLoaders` (with
`from_dd` over a Hugging Face `DatasetDict`, and `tensor_dls` over in-memory tensors) and small
plotting helpers, as in fast.ai's course22p2.

FashionMNIST itself (`load_fashion_mnist`, `fashion_tensors`) comes from the `miniai.data` subpackage and
is re-exported here, so `from miniai.datasets import *` gives a notebook everything it loads data with.
Importing this module loads no data and not even the Hugging Face `datasets` library.
"""
from __future__ import annotations

import math
from functools import wraps

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset, default_collate

from .data import FASHION_NAMES, BatchReader, DataNotFoundError, IDXError, fashion_tensors, load_fashion_mnist, read_idx

__all__ = ['inplace', 'collate_dict', 'DataLoaders', 'tensor_dls', 'show_image', 'subplots', 'get_grid',
           'show_images', 'FASHION_NAMES', 'IDXError', 'DataNotFoundError', 'read_idx', 'load_fashion_mnist',
           'fashion_tensors']


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
    def from_dd(cls, dd, batch_size, as_tuple=True, **kwargs):
        """Loaders over a `DatasetDict`: 'train' shuffled at `batch_size`, the other split at twice that
        (no gradients are kept when validating, so bigger batches fit). `kwargs` go to `DataLoader`.
        Batches are read whole, one transform call each, on every epoch (see `miniai.data.batches`)."""
        if 'train' in dd: train, valid = dd['train'], dd[_pick_valid_split(dd)]
        else: train, valid = list(dd.values())[:2]  # no 'train' split: take the first two, in order
        collate = collate_dict(train) if as_tuple else default_collate
        if _is_hf_dataset(train) and _is_hf_dataset(valid):
            train, valid = BatchReader(train), BatchReader(valid)
            if kwargs.get('num_workers'):  # read here, once: the workers forked each epoch share it
                for reader in (train, valid):
                    if reader.arrow is not None: reader.read_columns()
            collate = _ColumnTuple(train.features) if as_tuple else _already_batched
        return cls(DataLoader(train, batch_size=batch_size, shuffle=True, collate_fn=collate, **kwargs),
                   DataLoader(valid, batch_size=batch_size * 2, shuffle=False, collate_fn=collate, **kwargs))


class _ColumnTuple:
    "The columns of a batch read whole (a dict), as a tuple in `keys` order. A class, so workers can pickle it."
    def __init__(self, keys): self.keys = list(keys)
    def __call__(self, batch): return tuple(batch[k] for k in self.keys)


def _already_batched(b): return b  # module level, so worker processes can pickle it


class _BatchedTensorDataset(TensorDataset):
    """A TensorDataset that hands a DataLoader a whole batch with one indexing op (DataLoader calls
    `__getitems__` when it exists): far less loading time per epoch than fetching and stacking rows
    (`python bench/data_pipeline.py` times an epoch of these DataLoaders, BENCHMARKS.md §4)."""
    def __getitems__(self, idxs):
        i = torch.as_tensor(idxs)
        return tuple(t[i] for t in self.tensors)


def tensor_dls(x_train, y_train, x_valid, y_valid, batch_size, shuffle=True, **kwargs):
    """DataLoaders over in-memory tensors yielding (x, y) tuples: train at `batch_size` (shuffled if
    `shuffle`), valid at twice that, in order. `kwargs` go to `DataLoader`; batches are cut by indexing
    the tensors, so a `collate_fn` given there receives the finished (x, y) batch."""
    kwargs.setdefault('collate_fn', _already_batched)
    return DataLoaders(
        DataLoader(_BatchedTensorDataset(x_train, y_train), batch_size=batch_size, shuffle=shuffle, **kwargs),
        DataLoader(_BatchedTensorDataset(x_valid, y_valid), batch_size=batch_size * 2, shuffle=False, **kwargs))


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
