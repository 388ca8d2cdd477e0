"""What `DataLoaders.from_dd` reads a Hugging Face split through: a whole batch at a time, with the
dataset's own transform run on every batch of every epoch (nothing is kept between epochs).

A DataLoader over a `datasets.Dataset` normally asks for one row at a time: one Arrow read, one Python
dict and one call of the transform per image. `BatchReader.__getitems__` (which DataLoader calls when it
exists) makes that one read and one transform call per batch instead.

Columns stored as `datasets` arrays (`Array2D`, `Array3D`...: decoded images, as `load_fashion_mnist`
gives them, float32 pixels/255) reach the transform as one numpy array per row. The split's Arrow table is
read once, the first time a batch is asked for, into one numpy array per column (a view of the
memory-mapped Arrow data where it can be: `datasets`' own storage, not a copy of transformed rows); a
batch is then numpy indexing, where asking `datasets` for the batch's rows cost more than the transform
(`python bench/data_pipeline.py --per-image` times each step; BENCHMARKS.md section 4).
A numpy array is a form `TF.to_tensor` takes besides a PIL image. Left to itself, `datasets` would hand a
transform such a row as nested Python lists, which `TF.to_tensor` refuses, and building those lists costs
more than the model step. Every other dataset is read through `ds[indices]`, exactly as `datasets` formats it.

The transform runs under `torch.inference_mode()` (reading data records no gradients, and the course's
per-image `(TF.to_tensor(o)-xmean)/xstd` costs less: `--per-image` above). Nothing it returns
leaves as an inference tensor: collating stacks the rows into a new, ordinary tensor.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

__all__ = ['BatchReader']


def _is_array(feature):
    import datasets
    return isinstance(feature, (datasets.Array2D, datasets.Array3D, datasets.Array4D, datasets.Array5D))


def _plain(feature):
    "Features whose Python form needs no decoding step (numbers, strings, class labels)."
    import datasets
    return isinstance(feature, (datasets.Value, datasets.ClassLabel))


class BatchReader(Dataset):
    """One split of a Hugging Face dataset read a batch at a time: `__getitems__` returns the batch's
    columns, each collated as `default_collate` collates a list of rows, and `[i]` row `i` read the same
    way. Everything else (`len`, `.features`, ...) is the dataset's own."""
    def __init__(self, ds):
        self.ds = ds
        fmt = ds.format
        self.transform = fmt['format_kwargs'].get('transform') if fmt['type'] == 'custom' else None
        cols = fmt['columns'] or list(ds.features)
        feats = [ds.features[c] for c in cols]
        arrays = self.transform is not None and not fmt['output_all_columns'] and any(map(_is_array, feats)) \
            and all(_is_array(f) or _plain(f) for f in feats)
        self.arrow = ds.with_format('arrow', columns=cols) if arrays else None
        self.columns = None  # name -> the whole split's column, read on the first batch (read_columns)

    def __len__(self): return len(self.ds)
    def __getitem__(self, i): return {k: v[0] for k, v in self.__getitems__([i]).items()}
    def __getattr__(self, name):
        if name in ('ds', 'arrow', 'transform', 'columns'): raise AttributeError(name)  # not set yet (unpickling)
        return getattr(self.ds, name)

    def __getstate__(self):  # a worker process reads the columns itself, from the same Arrow files
        return {**self.__dict__, 'columns': None}

    def read_columns(self):
        "Every column of the split: arrays as one numpy array (rows first), the rest as Python values."
        if self.columns is None:
            table, columns = self.arrow[:], {}
            for name in table.column_names:
                col = table.column(name).combine_chunks()
                if _is_array(self.ds.features[name]):
                    flat = col.storage
                    for _ in self.ds.features[name].shape: flat = flat.flatten()
                    columns[name] = flat.to_numpy(zero_copy_only=False).reshape(len(col), *self.ds.features[name].shape)
                else: columns[name] = col.to_pylist()
            self.columns = columns
        return self.columns

    def _read(self, idxs):
        "The rows as the transform would see them, but with array columns as one numpy array per row."
        batch = {}
        for name, col in self.read_columns().items():
            if isinstance(col, np.ndarray): batch[name] = list(col[idxs])  # indexing copies: arrays torch may write to
            else: batch[name] = [col[i] for i in idxs]
        with torch.inference_mode():  # cheaper per image; the collated batch is an ordinary tensor again
            return self.transform(batch)

    def __getitems__(self, idxs):
        idxs = [int(i) for i in idxs]
        batch = self._read(idxs) if self.arrow is not None else self.ds[idxs]
        n = len(batch[next(iter(batch))])
        # Collated column by column exactly as `default_collate` does a list of row dicts.
        return {k: default_collate([v[i] for i in range(n)]) for k, v in batch.items()}
