"""The data plumbing behind the lesson's one-line loads, kept out of the teaching modules' way.

Nothing here is part of what the lessons teach; `miniai.datasets` re-exports what a notebook calls.

- `fashion`: FashionMNIST from wherever it is (a folder, $MINIAI_DATA, Debian's package, the hub, the
  small sample committed in `fashion_mnist_sample/`) as a `DatasetDict` with decoded images, or as tensors.
- `idx`: the IDX file format FashionMNIST ships in, read and checked with numpy.
- `batches`: how `DataLoaders.from_dd` reads a split a batch at a time, the transform run on every batch.
"""
from .batches import BatchReader
from .fashion import DataNotFoundError, Source, fashion_tensors, find_source, load_fashion_mnist
from .idx import FASHION_NAMES, IDX_FILES, IDXError, idx_files, read_idx, read_split

__all__ = ['BatchReader', 'DataNotFoundError', 'Source', 'fashion_tensors', 'find_source', 'load_fashion_mnist',
           'FASHION_NAMES', 'IDX_FILES', 'IDXError', 'idx_files', 'read_idx', 'read_split']
