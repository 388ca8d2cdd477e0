"""What `DataLoaders.from_dd` reads a Hugging Face split through: a whole batch at a time, with the
dataset's own transform run on every batch of every epoch (nothing is kept between epochs).

A DataLoader over a `datasets.Dataset` normally asks for one row at a time: one Arrow read, one Python
dict and one call of the transform per image. `BatchReader.__getitems__` (which DataLoader calls when it
exists) makes that one read and one transform call per batch instead.

Columns stored as `datasets` arrays (`Array2D`, `Array3D`...: decoded images, as `load_fashion_mnist`
gives them) reach the transform as one numpy array per row, read from the batch's Arrow table in one go.
That is the form `TF.to_tensor` takes besides a PIL image. Left to itself, `datasets` would hand a
transform such a row as nested Python lists, which `TF.to_tensor` refuses, and building those lists costs
more than the model step. Every other dataset is read through `ds[indices]`, exactly as `datasets` formats it.
"""
from __future__ import annotations

import numpy as np
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

    def __len__(self): return len(self.ds)
    def __getitem__(self, i): return {k: v[0] for k, v in self.__getitems__([i]).items()}
    def __getattr__(self, name):
        if name in ('ds', 'arrow', 'transform'): raise AttributeError(name)  # not set yet (e.g. while unpickling)
        return getattr(self.ds, name)

    def _read(self, idxs):
        "The rows as the transform would see them, but with array columns as one numpy array per row."
        table, batch = self.arrow[idxs], {}
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            if _is_array(self.ds.features[name]):  # a copy: torch wants arrays it may write to
                batch[name] = list(np.array(col.to_numpy(zero_copy_only=False)))
            else: batch[name] = col.to_pylist()
        return self.transform(batch)

    def __getitems__(self, idxs):
        idxs = [int(i) for i in idxs]
        batch = self._read(idxs) if self.arrow is not None else self.ds[idxs]
        n = len(batch[next(iter(batch))])
        # Collated column by column exactly as `default_collate` does a list of row dicts.
        return {k: default_collate([v[i] for i in range(n)]) for k, v in batch.items()}
