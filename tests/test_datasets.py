"""miniai.datasets (with miniai.data.batches): the lesson's DataLoaders over Hugging Face datasets, read a
batch at a time with the transform run on every batch of every epoch, and the plotting helpers.

Every test runs offline, on the committed FashionMNIST sample.
"""
import ast
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import DataLoader

import datasets
import miniai.data as mdata
import miniai.datasets as md
from miniai.data.fashion import SAMPLE_DIR
from miniai.datasets import DataLoaders, collate_dict, inplace, load_fashion_mnist
from miniai.data.idx import IDX_FILES, read_idx

MINIAI = Path(md.__file__).parent


@pytest.fixture(scope='session')
def sample_dsd():
    return load_fashion_mnist(sample=True)


@pytest.fixture(scope='session')
def small_dsd(sample_dsd):
    "300 train and 100 test rows of the sample: a few batches, quick to run through many times."
    return datasets.DatasetDict({'train': sample_dsd['train'].select(range(300)),
                                 'test': sample_dsd['test'].select(range(100))})


@pytest.fixture(scope='session')
def small_png_dsd(small_dsd):
    "The same rows stored as the hub stores them: PNG images (decoded to PIL on every read), python format."
    feats = datasets.Features({'image': datasets.Image(), 'label': small_dsd['train'].features['label']})
    def split(k):
        x, y = sample_arrays(k)
        n = len(small_dsd[k])
        return datasets.Dataset.from_dict({'image': [Image.fromarray(a) for a in x[:n]], 'label': y[:n].tolist()},
                                          features=feats)
    return datasets.DatasetDict({k: split(k) for k in small_dsd})


def sample_arrays(split):
    img, lbl = IDX_FILES[split]
    return read_idx(SAMPLE_DIR / img), read_idx(SAMPLE_DIR / lbl)


@inplace
def transformi(b): b['image'] = [(TF.to_tensor(o) - 0.28) / 0.35 for o in b['image']]


# --- batches and DataLoaders -------------------------------------------------------------------

def test_import_does_not_load_the_datasets_library():
    code = "import sys, miniai.datasets; print('datasets' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['False']


def test_fashion_helpers_are_importable_from_datasets():
    from miniai.datasets import fashion_tensors, load_fashion_mnist
    assert (fashion_tensors, load_fashion_mnist) == (mdata.fashion_tensors, mdata.load_fashion_mnist)


def miniai_imports():
    "{module: miniai modules it imports anywhere in its file, inside functions included}."
    graph = {}
    for path in MINIAI.rglob('*.py'):
        parts = path.relative_to(MINIAI.parent).with_suffix('').parts
        name = '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)
        package = name if path.name == '__init__.py' else name.rpartition('.')[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    up = package.split('.')[:len(package.split('.')) - node.level + 1]
                    base = '.'.join(up + ([node.module] if node.module else []))
                if base.startswith('miniai'):
                    subs = [f'{base}.{a.name}' for a in node.names]
                    found |= {m for m in subs if (MINIAI.parent / m.replace('.', '/')).with_suffix('.py').exists()
                              or (MINIAI.parent / m.replace('.', '/')).is_dir()} or {base}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith('miniai')}
        graph[name] = found - {name}
    return graph


def test_miniai_modules_import_each_other_without_cycles():
    graph = miniai_imports()
    assert graph['miniai.datasets'] >= {'miniai.data'} and 'miniai.data.fashion' in graph
    state = {}
    def visit(m, path):
        if state.get(m) == 'open': raise AssertionError(f"import cycle: {' -> '.join(path + [m])}")
        if state.get(m) == 'done': return
        state[m] = 'open'
        for n in graph.get(m, ()):
            visit(n, path + [m])
        state[m] = 'done'
    for m in graph: visit(m, [])


def test_the_data_subpackage_imports_no_teaching_module():
    teaching = {f'miniai.{n}' for n in ('datasets', 'conv', 'learner', 'activations', 'init')}
    assert {m: deps & teaching for m, deps in miniai_imports().items() if m.startswith('miniai.data')} == \
        {m: set() for m in miniai_imports() if m.startswith('miniai.data')}


def test_inplace_returns_the_mutated_argument():
    @inplace
    def add(b): b['x'] = 1
    d = {}
    assert add(d) is d and d == {'x': 1}
    assert add.__name__ == 'add'


def test_collate_dict_returns_columns_in_features_order():
    ds = datasets.Dataset.from_dict({'b': [1, 2, 3], 'a': [10., 20., 30.]})
    out = collate_dict(ds)([ds[0], ds[1]])
    assert isinstance(out, tuple) and len(out) == 2
    assert out[0].tolist() == [1, 2] and out[1].tolist() == [10., 20.]


def test_collate_and_transforms_pickle_for_worker_processes(sample_dsd):
    f = pickle.loads(pickle.dumps(collate_dict(sample_dsd['train'])))
    assert f.keys == ['image', 'label']
    assert pickle.loads(pickle.dumps(transformi)) is transformi


def test_dataloaders_keeps_the_first_two():
    dls = DataLoaders('t', 'v', 'extra')
    assert (dls.train, dls.valid) == ('t', 'v')


def test_from_dd_batches_shapes_and_dtypes(sample_dsd):
    dls = DataLoaders.from_dd(sample_dsd.with_transform(transformi), 64)
    xb, yb = next(iter(dls.train))
    assert xb.shape == (64, 1, 28, 28) and xb.dtype == torch.float32
    assert yb.shape == (64,) and yb.dtype == torch.int64
    xv, yv = next(iter(dls.valid))
    assert xv.shape == (128, 1, 28, 28) and yv.shape == (128,)


def test_from_dd_valid_is_in_order_and_normalised(sample_dsd):
    dls = DataLoaders.from_dd(sample_dsd.with_transform(transformi), 16)
    xv, yv = next(iter(dls.valid))
    x, y = sample_arrays('test')
    assert yv.tolist() == y[:32].tolist()
    assert torch.allclose(xv[:, 0], (torch.tensor(x[:32]) / 255 - 0.28) / 0.35, atol=1e-6)


def test_from_dd_shuffles_train_only_and_passes_kwargs(sample_dsd):
    dls = DataLoaders.from_dd(sample_dsd.with_transform(transformi), 32, drop_last=True)
    assert isinstance(dls.train.sampler, torch.utils.data.RandomSampler)
    assert isinstance(dls.valid.sampler, torch.utils.data.SequentialSampler)
    assert dls.train.drop_last and dls.valid.drop_last
    assert (dls.train.batch_size, dls.valid.batch_size) == (32, 64)


def test_from_dd_as_tuple_false_gives_dicts(sample_dsd):
    dls = DataLoaders.from_dd(sample_dsd.with_transform(transformi), 8, as_tuple=False)
    b = next(iter(dls.valid))
    assert set(b) == {'image', 'label'} and b['image'].shape == (16, 1, 28, 28)




# --- batches read whole, the transform run on every batch of every epoch -------------------------

def plain_loader(ds, bs, shuffle=True, **kwargs):
    "What the course builds: one DataLoader asking for one row at a time, collated by `collate_dict`."
    return DataLoader(ds, batch_size=bs, shuffle=shuffle, collate_fn=collate_dict(ds), **kwargs)


def epochs(dl, n, seed=0):
    "`n` epochs of `dl` from a fixed seed: the batches, and torch's random state after each epoch."
    torch.manual_seed(seed)
    out = []
    for _ in range(n): out.append((list(dl), torch.get_rng_state()))
    return out


class Counting:
    "The lesson's transform, counting the rows it has transformed and noting what it was given."
    def __init__(self): self.rows, self.seen = 0, None
    def __call__(self, b):
        self.rows += len(b['image'])
        self.seen = b['image'][0]
        return transformi(b)


def same(a, b): return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_from_dd_gives_the_course_loaders_batches_over_the_hubs_png_images(small_dsd, small_png_dsd):
    fast = epochs(DataLoaders.from_dd(small_dsd.with_transform(transformi), 64).train, 3)
    plain = epochs(plain_loader(small_png_dsd['train'].with_transform(transformi), 64), 3)
    for (fb, fs), (pb, ps) in zip(fast, plain):
        assert len(fb) == len(pb) == 5 and all(same(f, p) for f, p in zip(fb, pb))
        assert torch.equal(fs, ps)


def test_the_transform_runs_on_every_batch_of_every_epoch(small_dsd):
    count = Counting()
    dl = DataLoaders.from_dd(small_dsd.with_transform(count), 64).train
    list(dl); list(dl); list(dl)
    assert count.rows == 900


def test_the_transform_gets_each_image_as_a_float32_array_of_pixels_over_255(small_dsd):
    count = Counting()
    next(iter(DataLoaders.from_dd(small_dsd.with_transform(count), 8).valid))
    x, _ = sample_arrays('test')
    assert isinstance(count.seen, np.ndarray) and count.seen.dtype == np.float32 and count.seen.flags.writeable
    assert np.array_equal(count.seen, x[0].astype(np.float32) / np.float32(255))


@pytest.mark.parametrize('private', [False, True], ids=['global generator', 'private generator'])
def test_a_random_transform_is_random_every_epoch(small_dsd, private):
    gen = torch.Generator().manual_seed(0) if private else None
    @inplace
    def jitter(b): b['image'] = [TF.to_tensor(o) + torch.rand((), generator=gen) for o in b['image']]
    dl = DataLoaders.from_dd(small_dsd.with_transform(jitter), 32).valid  # in order: same rows each epoch
    first, second = next(iter(dl)), next(iter(dl))
    assert torch.equal(first[1], second[1]) and not torch.equal(first[0], second[0])


def test_batches_are_ordinary_tensors_though_the_transform_runs_in_inference_mode(small_dsd):
    modes = []
    @inplace
    def noting(b):
        modes.append(torch.is_inference_mode_enabled())
        transformi(b)
    ds = DataLoaders.from_dd(small_dsd.with_transform(noting), 8).train.dataset
    xb = ds.__getitems__([0, 1])['image']
    x = ds[2]['image']
    assert modes == [True, True] and not torch.is_inference(xb) and not torch.is_inference(x)
    (xb.requires_grad_() * 2).sum().backward()
    x += 1  # an in-place update, refused on an inference tensor
    assert torch.equal(xb.grad, torch.full_like(xb, 2.))


def test_worker_processes_give_the_course_loaders_batches(small_dsd, small_png_dsd):
    fast = epochs(DataLoaders.from_dd(small_dsd.with_transform(transformi), 64, num_workers=2).train, 2)
    plain = epochs(plain_loader(small_png_dsd['train'].with_transform(transformi), 64, num_workers=2), 2)
    for (fb, fs), (pb, ps) in zip(fast, plain):
        assert all(same(f, p) for f, p in zip(fb, pb)) and torch.equal(fs, ps)


def test_with_workers_each_split_is_read_once_here_for_the_workers_forked_every_epoch(small_dsd):
    dls = DataLoaders.from_dd(small_dsd.with_transform(transformi), 64, num_workers=2)
    assert [len(dl.dataset.columns['image']) for dl in (dls.train, dls.valid)] == [300, 100]
    assert DataLoaders.from_dd(small_dsd.with_transform(transformi), 64).train.dataset.columns is None  # read on use


def test_datasets_without_array_columns_are_read_as_datasets_formats_them(small_png_dsd):
    count = Counting()
    xb, yb = next(iter(DataLoaders.from_dd(small_png_dsd.with_transform(count), 16).valid))
    xp, yp = next(iter(plain_loader(small_png_dsd['test'].with_transform(transformi), 32, shuffle=False)))
    assert isinstance(count.seen, Image.Image) and torch.equal(xb, xp) and torch.equal(yb, yp)


def test_the_loaders_dataset_reads_rows_as_the_loader_does(small_dsd):
    tds = small_dsd.with_transform(transformi)
    ds = DataLoaders.from_dd(tds, 64).train.dataset
    x, y = sample_arrays('train')
    assert len(ds) == 300 and ds.features == tds['train'].features
    assert torch.equal(ds[3]['image'], (TF.to_tensor(x[3]) - 0.28) / 0.35) and ds[3]['label'] == y[3]


def test_loader_and_dataset_pickle_for_spawned_workers(small_dsd):
    ds = pickle.loads(pickle.dumps(DataLoaders.from_dd(small_dsd.with_transform(transformi), 64).train.dataset))
    assert len(ds) == 300 and ds.__getitems__([0, 1])['image'].shape == (2, 1, 28, 28)


# --- plotting -----------------------------------------------------------------------------------

def test_show_image_accepts_tensors_arrays_and_pil():
    im = np.arange(784, dtype=np.uint8).reshape(28, 28)
    cases = [(torch.tensor(im)[None], (28, 28)), (torch.tensor(im), (28, 28)), (im, (28, 28)),
             (Image.fromarray(im), (28, 28)), (torch.rand(3, 8, 8), (8, 8, 3))]
    for o, shape in cases:
        ax = md.show_image(o, title='t')
        assert ax.get_title() == 't' and ax.images[0].get_array().shape == shape


def test_grid_helpers_shapes():
    fig, axs = md.subplots(imsize=2)
    assert axs.shape == (1,) and tuple(fig.get_size_inches()) == (2, 2)
    _, axs = md.get_grid(7, title='g')
    assert axs.shape == (2, 4) and [a.axison for a in axs.flat] == [True] * 7 + [False]
    axs = md.show_images([np.zeros((4, 4))] * 3, ncols=3, titles=list('abc'))
    assert [a.get_title() for a in axs.flat] == list('abc')


