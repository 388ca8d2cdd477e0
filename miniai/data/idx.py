"""IDX files, the format FashionMNIST (and MNIST) ship in: a tiny header, then raw unsigned bytes.

Read with numpy alone, checked hard: a corrupt or truncated download gets an error naming the file.
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ['FASHION_NAMES', 'IDX_FILES', 'IDXError', 'read_idx', 'read_split', 'idx_files']

FASHION_NAMES = ['T - shirt / top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']  # spelt as on the Hugging Face hub

IDX_FILES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
             'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}


class IDXError(ValueError):
    "An IDX file that is corrupt, truncated or not what was expected; the message names the file."


def read_idx(path, ndim=None):
    "Decode an IDX file (optionally gzipped) of unsigned bytes into a numpy array, checking header and size."
    path = Path(path)
    try:
        with (gzip.open(path, 'rb') if path.suffix == '.gz' else open(path, 'rb')) as f: data = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise IDXError(f"{path}: damaged or truncated gzip data ({e})") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise IDXError(f"{path}: bad magic number {data[:4].hex() or '(empty file)'}; "
                       "expected 0000 08 0n (IDX file of unsigned bytes)")
    nd = data[3]
    if ndim is not None and nd != ndim:
        raise IDXError(f"{path}: IDX file has {nd} dimensions, expected {ndim}")
    start = 4 + 4 * nd
    if len(data) < start: raise IDXError(f"{path}: file ends inside its header")
    dims = struct.unpack(f'>{nd}I', data[4:start])
    want = math.prod(dims)
    if len(data) - start != want:
        raise IDXError(f"{path}: header says shape {dims} ({want:,} bytes of data) "
                       f"but the file holds {len(data) - start:,}")
    return np.frombuffer(data, np.uint8, offset=start).reshape(dims).copy()


def read_split(images_path, labels_path):
    "Images (N×28×28 uint8) and labels (N int64) of one split, checked against each other."
    x = read_idx(images_path, ndim=3)
    if x.shape[1:] != (28, 28): raise IDXError(f"{images_path}: images are {x.shape[1:]}, expected (28, 28)")
    y = read_idx(labels_path, ndim=1)
    if len(y) != len(x):
        raise IDXError(f"{labels_path}: {len(y):,} labels but {Path(images_path).name} holds {len(x):,} images")
    if len(y) and y.max() >= len(FASHION_NAMES):
        raise IDXError(f"{labels_path}: label {y.max()} out of range 0-{len(FASHION_NAMES) - 1}")
    return x, y.astype(np.int64)


def idx_files(d):
    "{split: (images, labels)} for the IDX files in `d` (gzipped or not), or (None, names of missing files)."
    d, files, missing = Path(d), {}, []
    for split, names in IDX_FILES.items():
        found = []
        for name in names:
            p = next((q for q in (d / name, d / name[:-3]) if q.is_file()), None)
            if p is None: missing.append(name)
            found.append(p)
        files[split] = tuple(found)
    return (None, missing) if missing else (files, [])
