"""What makes `DataLoaders.from_dd` fast: a batch at a time, and each row's transform run once.

The lesson's pipeline is a Hugging Face `Dataset` with a per-batch transform that turns every PIL image
into a normalised tensor. On the 2-core course machine (bench/data_pipeline.py), one epoch of 60k + 10k
images took 10.1 s through a plain `DataLoader`, 2.3 s from in-memory tensors: the per-image work (Arrow
read and PNG decode ~100 µs, then the lesson's `TF.to_tensor` and two arithmetic ops ~80 µs an image)
outweighed the model. Reading whole batches (one `ds[indices]`, one transform call a batch) removes the
per-row Python around it, but the transform itself works image by image: alone it costs more than the
model step, so no batching of the reads could bring an epoch near the tensors' time.

So, when the transform is deterministic, each row is transformed once and kept: the first epoch fills a
per-split store of the transformed rows (in the DataLoader's worker processes if it has any) and later
epochs cut their batches from it with one indexing op each, as `tensor_dls` does. Measured (full data,
1 thread, the epochs of each pipeline taken in turns on the shared machine, load ~10, median of 3):
a later epoch 0.99-1.00x the tensors' time with 0 or 2 workers, 2.5x with the transform run every
epoch; a pass over the data with no model 0.64 s, against 53 s with the transform and 0.53 s for tensors.
The first epoch still pays the transform once (2.9-4x), and 188 MB of memory hold the training split.

A transform that draws from torch's, numpy's or Python's global random generators (any augmentation
using them) is noticed on its first batch and then applied afresh to every batch, every epoch. Not
noticed: a transform with a private generator, or one reading state changed between epochs: pass
`cache=False` to `DataLoaders.from_dd` for those.
"""
from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

__all__ = ['HFSplit', 'CachingLoader', 'CACHE_LIMIT']

CACHE_LIMIT = 2**30  # bytes of transformed rows kept per split (FashionMNIST train takes 188 MB)


def _rng_state():
    "The state of every global generator a transform is likely to draw from."
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    return torch.get_rng_state(), random.getstate(), (keys.tobytes(), pos, has_gauss, gauss)


def _same_state(a, b): return torch.equal(a[0], b[0]) and a[1:] == b[1:]


class HFSplit(Dataset):
    """One split of a Hugging Face dataset, read a batch at a time: `__getitems__` does one `ds[indices]`
    (one Arrow read, one call of the dataset's transform) and returns (indices, drew_random, columns).
    Everything else (`len`, `[i]`, `.features`, ...) is the dataset's own."""
    def __init__(self, ds): self.ds = ds
    def __len__(self): return len(self.ds)
    def __getitem__(self, i): return self.ds[i]
    def __getattr__(self, name):
        if name == 'ds': raise AttributeError(name)  # not set yet (e.g. while unpickling)
        return getattr(self.ds, name)

    def __getitems__(self, idxs):
        before = _rng_state()
        batch = self.ds[list(idxs)]
        drew = not _same_state(before, _rng_state())
        n = len(batch[next(iter(batch))])
        # Collated column by column exactly as `default_collate` does a list of row dicts.
        cols = {k: default_collate([v[i] for i in range(n)]) for k, v in batch.items()}
        return torch.as_tensor(idxs), drew, cols


class _RowCache:
    "Transformed rows by index, so that a deterministic transform runs once per row, not once per epoch."
    def __init__(self, n, limit=CACHE_LIMIT):
        self.n, self.limit, self.cols = n, limit, None
        self.filled = torch.zeros(n, dtype=torch.bool)

    @property
    def complete(self): return self.cols is not None and bool(self.filled.all())

    def _fits(self, cols, n_rows):
        "Only same-shaped tensors, one per row, can be kept (and only up to `limit` bytes)."
        if not all(isinstance(v, torch.Tensor) and v.ndim and len(v) == n_rows for v in cols.values()): return False
        if self.cols is None:
            return sum(v[0].numel() * v.element_size() for v in cols.values()) * self.n <= self.limit
        return cols.keys() == self.cols.keys() and all(
            v.shape[1:] == self.cols[k].shape[1:] and v.dtype == self.cols[k].dtype for k, v in cols.items())

    def put(self, idxs, cols):
        "Keep these rows; False if they cannot be kept (then nothing will be)."
        if not self._fits(cols, len(idxs)): return False
        if self.cols is None:
            self.cols = {k: torch.empty((self.n, *v.shape[1:]), dtype=v.dtype, device=v.device)
                         for k, v in cols.items()}
        for k, v in cols.items(): self.cols[k][idxs] = v
        self.filled[idxs] = True
        return True

    def get(self, idxs): return {k: v[idxs] for k, v in self.cols.items()}  # a copy: callers may edit it


def _passthrough(b): return b  # module level, so worker processes can pickle it


class CachingLoader(DataLoader):
    """A DataLoader over an `HFSplit` yielding the columns `keys` as a tuple (all of them as a dict when
    `keys` is None). While the transform draws no random numbers, transformed rows are kept and an epoch
    whose rows are all kept is served from memory, with no workers and no transform."""
    def __init__(self, dataset, batch_size, keys=None, cache=True, **kwargs):
        super().__init__(dataset, batch_size=batch_size, collate_fn=_passthrough, **kwargs)
        self.keys = None if keys is None else list(keys)
        self.rows = _RowCache(len(dataset)) if cache else None

    def _present(self, cols): return dict(cols) if self.keys is None else tuple(cols[k] for k in self.keys)

    def __iter__(self):
        if self.rows is not None and self.rows.complete:
            yield from self._from_memory()
            return
        for idxs, drew, cols in super().__iter__():
            if self.rows is not None and (drew or not self.rows.put(idxs, cols)): self.rows = None
            yield self._present(cols)

    def _from_memory(self):
        if not (self.persistent_workers and self._iterator is not None):
            # DataLoader's own iterator draws its workers' base seed here: drawing it too keeps torch's
            # global random stream (hence the shuffling and the training after it) the same as uncached.
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        for idxs in self.batch_sampler:
            b = self.rows.get(torch.as_tensor(idxs))
            if self.pin_memory and torch.cuda.is_available(): b = {k: v.pin_memory() for k, v in b.items()}
            yield self._present(b)
