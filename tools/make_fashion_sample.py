"""Rebuild the FashionMNIST sample committed in miniai/data/fashion_mnist_sample/.

It holds 300 training and 100 test images of each of the 10 classes, drawn from the real IDX files
with a fixed seed, kept in their original order and written back as gzipped IDX files (gzip
timestamp zeroed) so running this again gives byte-identical files.

    python tools/make_fashion_sample.py [SOURCE_DIR] [--out DIR]   # default: the Debian package's folder
"""
import argparse
import gzip
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

from miniai.data.fashion import DEBIAN_DIR, SAMPLE_DIR
from miniai.data.idx import IDX_FILES, idx_files, read_split

PER_CLASS = {'train': 300, 'test': 100}
SEED = 42
LICENSE = """Fashion-MNIST sample
====================

The files in this folder are a subset (300 training and 100 test images per class) of
Fashion-MNIST, https://github.com/zalandoresearch/fashion-mnist, made by
tools/make_fashion_sample.py. Fashion-MNIST is distributed under the MIT licence:

The MIT License (MIT) Copyright © [2017] Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def write_idx(path, a):
    "Write a uint8 array as a gzipped IDX file with a zero gzip timestamp (reproducible bytes)."
    a = np.ascontiguousarray(a, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f'>{a.ndim}I', *a.shape)
    with open(path, 'wb') as raw, gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(header + a.tobytes())


def pick(y, per_class, rng):
    "`per_class` random rows of each class, returned in file order."
    idx = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(idx))


def main(src=DEBIAN_DIR, dst=SAMPLE_DIR):
    files, missing = idx_files(src)
    if files is None:
        sys.exit(f"{src} lacks {', '.join(missing)}")
    dst = Path(dst)
    tmp = dst.with_name(dst.name + '.tmp')
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    for split, (img_name, lbl_name) in IDX_FILES.items():
        x, y = read_split(*files[split])
        keep = pick(y, PER_CLASS[split], rng)
        write_idx(tmp / img_name, x[keep])
        write_idx(tmp / lbl_name, y[keep])
        print(f"{split}: {len(keep):,} of {len(y):,} rows, per class {np.bincount(y[keep]).tolist()}")
    (tmp / 'LICENSE.txt').write_text(LICENSE)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    print(f"wrote {dst} ({sum(p.stat().st_size for p in dst.iterdir()):,} bytes)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('source', nargs='?', default=str(DEBIAN_DIR),
                   help=f"folder with the four full Fashion-MNIST IDX files (default: {DEBIAN_DIR})")
    p.add_argument('--out', default=str(SAMPLE_DIR), help=f"folder to (re)write (default: {SAMPLE_DIR})")
    return p.parse_args(argv)


if __name__ == '__main__':
    args = parse_args()
    main(args.source, args.out)
