"""miniai.datasets (and miniai.fastdata): the lesson's DataLoaders over Hugging Face datasets, the speed-up
they rely on (each row transformed once unless the transform is random), and the plotting helpers.

Every test runs offline, on the committed FashionMNIST sample.
"""
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import DataLoader

import datasets
import miniai.datasets as md
import miniai.fashion as mf
from miniai.datasets import DataLoaders, collate_dict, inplace, load_fashion_mnist
from miniai.idx import IDX_FILES, read_idx


@pytest.fixture(scope='session')
def sample_dsd(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # session fixtures run outside the per-test monkeypatch
        mp.setenv('MINIAI_CACHE', str(tmp_path_factory.mktemp('miniai-cache')))
        return load_fashion_mnist(sample=True)


@pytest.fixture(scope='session')
def small_dsd(sample_dsd):
    "300 train and 100 test rows of the sample: a few batches, quick to run through many times."
    return datasets.DatasetDict({'train': sample_dsd['train'].select(range(300)),
                                 'test': sample_dsd['test'].select(range(100))})


def sample_arrays(split):
    img, lbl = IDX_FILES[split]
    return read_idx(mf.SAMPLE_DIR / img), read_idx(mf.SAMPLE_DIR / lbl)


@inplace
def transformi(b): b['image'] = [(TF.to_tensor(o) - 0.28) / 0.35 for o in b['image']]


# --- batches and DataLoaders -------------------------------------------------------------------

def test_import_loads_neither_data_nor_the_datasets_library():
    code = "import sys, miniai.datasets; print('datasets' in sys.modules, 'miniai.fashion' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['False', 'False']


def test_fashion_helpers_are_still_importable_from_datasets():
    from miniai.datasets import fashion_tensors, load_fashion_mnist, tensor_dls
    assert (fashion_tensors, load_fashion_mnist, tensor_dls) == (mf.fashion_tensors, mf.load_fashion_mnist,
                                                                 mf.tensor_dls)


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




# --- the fast path: batches read whole, each row transformed once unless the transform is random ------

def plain_loader(ds, bs, shuffle=True):
    "What `from_dd` built before the speed-up (and what the course builds): one DataLoader, per-row collation."
    return DataLoader(ds, batch_size=bs, shuffle=shuffle, collate_fn=collate_dict(ds))


def epochs(dl, n, seed=0):
    "`n` epochs of `dl` from a fixed seed: the batches, and torch's random state after each epoch."
    torch.manual_seed(seed)
    out = []
    for _ in range(n): out.append((list(dl), torch.get_rng_state()))
    return out


class Counting:
    "The lesson's transform, counting the rows it has transformed."
    def __init__(self): self.rows = 0
    def __call__(self, b):
        self.rows += len(b['image'])
        return transformi(b)


def same(a, b): return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_from_dd_gives_the_plain_loaders_batches_and_random_state_every_epoch(small_dsd):
    tds = small_dsd.with_transform(transformi)
    fast = epochs(DataLoaders.from_dd(tds, 64).train, 3)
    plain = epochs(plain_loader(tds['train'], 64), 3)
    for (fb, fs), (pb, ps) in zip(fast, plain):
        assert len(fb) == len(pb) == 5 and all(same(f, p) for f, p in zip(fb, pb))
        assert torch.equal(fs, ps)


def test_each_row_is_transformed_once_then_served_from_memory(small_dsd):
    count = Counting()
    dls = DataLoaders.from_dd(small_dsd.with_transform(count), 64)
    list(dls.train)
    assert count.rows == 300
    list(dls.train); list(dls.train)
    assert count.rows == 300


def test_an_epoch_cut_short_is_completed_by_the_next(small_dsd):
    count = Counting()
    dl = DataLoaders.from_dd(small_dsd.with_transform(count), 64).train
    next(iter(dl))  # e.g. SingleBatchCB
    torch.manual_seed(1)
    second = list(dl)
    torch.manual_seed(1)
    assert count.rows == 64 + 300 and all(same(a, b) for a, b in zip(second, plain_loader(dl.dataset.ds, 64)))


@pytest.mark.parametrize('draw', [lambda: torch.rand(()).item(), lambda: random.random(), lambda: np.random.rand()],
                         ids=['torch', 'python', 'numpy'])
def test_a_random_transform_is_applied_afresh_every_epoch(small_dsd, draw):
    @inplace
    def jitter(b): b['image'] = [TF.to_tensor(o) + draw() for o in b['image']]
    dl = DataLoaders.from_dd(small_dsd.with_transform(jitter), 32).valid  # in order: same rows each epoch
    first, second = next(iter(dl)), next(iter(dl))
    assert torch.equal(first[1], second[1]) and not torch.equal(first[0], second[0])
    assert dl.rows is None


def test_cache_false_runs_the_transform_every_epoch(small_dsd):
    count = Counting()
    dl = DataLoaders.from_dd(small_dsd.with_transform(count), 64, cache=False).train
    list(dl); list(dl)
    assert count.rows == 600


def test_worker_processes_fill_the_memory_for_later_epochs(small_dsd):
    tds = small_dsd.with_transform(transformi)
    dl = DataLoaders.from_dd(tds, 64, num_workers=2).train
    fast = epochs(dl, 2)
    plain = epochs(plain_loader(tds['train'], 64), 2)
    assert dl.rows.complete
    for (fb, fs), (pb, ps) in zip(fast, plain):
        assert all(same(f, p) for f, p in zip(fb, pb)) and torch.equal(fs, ps)


def test_batches_from_memory_are_copies_the_training_loop_may_change(small_dsd):
    dl = DataLoaders.from_dd(small_dsd.with_transform(transformi), 50).valid
    list(dl)
    xb, _ = next(iter(dl))
    xb.zero_()
    assert not torch.equal(next(iter(dl))[0], xb)


def test_outputs_that_cannot_be_kept_still_load(small_dsd):
    @inplace
    def crop(b): b['image'] = [TF.to_tensor(o)[..., :20 + len(b['image']) % 3] for o in b['image']]
    dl = DataLoaders.from_dd(small_dsd.with_transform(crop), 64).train  # batches of 64 x 4, then 44
    assert [x.shape[-1] for x, _ in dl] == [21, 21, 21, 21, 22] and dl.rows is None


def test_the_loaders_dataset_reads_as_the_hugging_face_one(small_dsd):
    tds = small_dsd.with_transform(transformi)
    ds = DataLoaders.from_dd(tds, 64).train.dataset
    assert len(ds) == 300 and ds.features == tds['train'].features
    assert torch.equal(ds[3]['image'], tds['train'][3]['image']) and ds[3]['label'] == tds['train'][3]['label']


def test_loader_and_dataset_pickle_for_spawned_workers(small_dsd):
    ds = pickle.loads(pickle.dumps(DataLoaders.from_dd(small_dsd.with_transform(transformi), 64).train.dataset))
    assert len(ds) == 300


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


