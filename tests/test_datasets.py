"""miniai.datasets: DataLoaders over HF datasets, offline FashionMNIST loading, the tensor fast path, plots.

Every test runs offline: the hub loader is replaced, and the cache lives in a temporary folder.
Most tests use the committed sample or small copies of it; the full 70k set is built once, if the
Debian package is installed.
"""
import gzip
import os
import pickle
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

import datasets
import miniai.datasets as md
from miniai.datasets import (DataLoaders, DataNotFoundError, IDXError, collate_dict, fashion_tensors, inplace,
                             load_fashion_mnist, tensor_dls)

SAMPLE = md.SAMPLE_DIR
DEBIAN = md.DEBIAN_DIR
HAVE_DEBIAN = all((DEBIAN / f).is_file() for pair in md.IDX_FILES.values() for f in pair)
TRAIN_IMG, TRAIN_LBL = md.IDX_FILES['train']
TEST_IMG, TEST_LBL = md.IDX_FILES['test']
HUB_FEATURES = datasets.Features({'image': datasets.Image(), 'label': datasets.ClassLabel(
    names=['T - shirt / top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
           'Ankle boot'])})


def raw_idx(path):
    "Bytes of a gzipped IDX file and its data offset, read independently of miniai."
    data = gzip.open(path).read()
    return data, 4 + 4 * data[3]


def write_idx(path, a, type_code=0x08, dims=None):
    "Write `a` as a gzipped IDX file; `type_code` and `dims` can lie, to make broken files."
    a = np.ascontiguousarray(a, np.uint8)
    dims = a.shape if dims is None else dims
    with gzip.open(path, 'wb', compresslevel=1) as f:
        f.write(bytes([0, 0, type_code, len(dims)]) + struct.pack(f'>{len(dims)}I', *dims) + a.tobytes())


def sample_arrays(split):
    img, lbl = md.IDX_FILES[split]
    return md.read_idx(SAMPLE / img), md.read_idx(SAMPLE / lbl)


def make_dir(path, n_train=None, n_test=None):
    "A folder of IDX files holding the first `n_train`/`n_test` rows of the committed sample (all if None)."
    path.mkdir(parents=True, exist_ok=True)
    for split, n in (('train', n_train), ('test', n_test)):
        x, y = sample_arrays(split)
        img, lbl = md.IDX_FILES[split]
        write_idx(path / img, x[:n])
        write_idx(path / lbl, y[:n])
    return path


@pytest.fixture(scope='session')
def session_cache(tmp_path_factory): return tmp_path_factory.mktemp('miniai-cache')


@pytest.fixture(autouse=True)
def isolated(monkeypatch, session_cache):
    "No network, no user settings, cache in a temp folder; the hub is unavailable unless a test says so."
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_DATASETS_OFFLINE', '1')
    monkeypatch.delenv('MINIAI_DATA', raising=False)
    monkeypatch.setenv('MINIAI_CACHE', str(session_cache))
    def no_hub(): raise ConnectionError('hub unreachable (test)')
    monkeypatch.setattr(md, '_load_from_hub', no_hub)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    cache = tmp_path / 'cache'
    monkeypatch.setenv('MINIAI_CACHE', str(cache))
    return cache / 'fashion_mnist'


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(md, 'DEBIAN_DIR', tmp_path / 'no-debian')


@pytest.fixture(scope='session')
def sample_dsd(session_cache):
    with pytest.MonkeyPatch.context() as mp:  # session fixtures run outside the per-test monkeypatch
        mp.setenv('MINIAI_CACHE', str(session_cache))
        return load_fashion_mnist(sample=True)


@inplace
def transformi(b): b['image'] = [(TF.to_tensor(o) - 0.28) / 0.35 for o in b['image']]


# --- batches and DataLoaders -------------------------------------------------------------------

def test_import_does_not_load_data():
    code = ("import sys, miniai.datasets as m; "
            "print('datasets' in sys.modules, m.last_source is None)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['False', 'True']


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


# --- the DatasetDict matches the hub's ----------------------------------------------------------

def test_sample_schema_matches_hub(sample_dsd):
    assert list(sample_dsd) == ['train', 'test']
    assert {k: len(v) for k, v in sample_dsd.items()} == {'train': 3000, 'test': 1000}
    for ds in sample_dsd.values(): assert ds.features == HUB_FEATURES


def test_sample_is_stratified(sample_dsd):
    assert np.bincount(sample_dsd['train']['label']).tolist() == [300] * 10
    assert np.bincount(sample_dsd['test']['label']).tolist() == [100] * 10


def test_sample_first_image_matches_raw_bytes(sample_dsd):
    row = sample_dsd['train'][0]
    im = row['image']
    assert isinstance(im, Image.Image) and im.mode == 'L' and im.size == (28, 28)
    data, off = raw_idx(SAMPLE / TRAIN_IMG)
    assert np.asarray(im).tobytes() == data[off:off + 784]
    labels, loff = raw_idx(SAMPLE / TRAIN_LBL)
    assert row['label'] == labels[loff]


def test_sample_licence_is_committed():
    text = (SAMPLE / 'LICENSE.txt').read_text()
    assert 'Zalando SE' in text and 'Permission is hereby granted' in text


@pytest.mark.skipif(not HAVE_DEBIAN, reason=f'Debian package dataset-fashion-mnist not installed ({DEBIAN})')
def test_full_dataset_from_debian_matches_hub_schema():
    dsd = load_fashion_mnist()
    assert md.last_source.kind == 'debian'
    assert {k: len(v) for k, v in dsd.items()} == {'train': 60000, 'test': 10000}
    assert dsd['train'].features == HUB_FEATURES
    data, off = raw_idx(DEBIAN / TRAIN_IMG)
    first = dsd['train'][0]
    assert np.asarray(first['image']).tobytes() == data[off:off + 784]
    assert first['label'] == 9  # the first training image is an ankle boot
    assert 'Debian package' in dsd['train'].info.description


# --- which source wins --------------------------------------------------------------------------

def test_explicit_dir_beats_miniai_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('MINIAI_DATA', str(make_dir(tmp_path / 'env', 30, 10)))
    x, _ = fashion_tensors(data_dir=make_dir(tmp_path / 'arg', 40, 10))
    assert md.last_source.kind == 'argument' and len(x) == 40
    assert capsys.readouterr().out.startswith('FashionMNIST: directory ')


def test_miniai_data_beats_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(md, 'DEBIAN_DIR', make_dir(tmp_path / 'deb', 50, 10))
    monkeypatch.setenv('MINIAI_DATA', str(make_dir(tmp_path / 'env', 30, 10)))
    x, _ = fashion_tensors()
    assert md.last_source.kind == 'MINIAI_DATA' and len(x) == 30


def test_debian_beats_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(md, 'DEBIAN_DIR', make_dir(tmp_path / 'deb', 50, 10))
    calls = []
    monkeypatch.setattr(md, '_load_from_hub', lambda: calls.append(1))
    x, _ = fashion_tensors()
    assert md.last_source.kind == 'debian' and len(x) == 50 and calls == []


def test_hub_beats_sample(no_debian, monkeypatch, sample_dsd):
    small = datasets.DatasetDict({k: v.select(range(20)) for k, v in sample_dsd.items()})
    monkeypatch.setattr(md, '_load_from_hub', lambda: small)
    dsd = load_fashion_mnist()
    assert md.last_source.kind == 'hub' and len(dsd['train']) == 20


def test_hub_dataset_converts_to_tensors(no_debian, monkeypatch, sample_dsd):
    monkeypatch.setattr(md, '_load_from_hub', lambda: sample_dsd)
    x, y = fashion_tensors('test')
    xs, ys = fashion_tensors('test', sample=True)
    assert torch.equal(x, xs) and torch.equal(y, ys)


def test_sample_is_the_last_resort_and_warns(no_debian):
    with pytest.warns(UserWarning, match='committed sample'):
        dsd = load_fashion_mnist()
    assert md.last_source.kind == 'sample' and len(dsd['train']) == 3000


def test_sample_true_skips_every_other_source(tmp_path, monkeypatch):
    monkeypatch.setattr(md, 'DEBIAN_DIR', make_dir(tmp_path / 'deb', 50, 10))
    monkeypatch.setenv('MINIAI_DATA', str(make_dir(tmp_path / 'env', 30, 10)))
    x, _ = fashion_tensors(sample=True, data_dir=make_dir(tmp_path / 'arg', 40, 10))
    assert md.last_source.kind == 'sample' and len(x) == 3000


def test_incomplete_explicit_dir_is_an_error(tmp_path):
    d = make_dir(tmp_path / 'arg', 10, 10)
    (d / TEST_LBL).unlink()
    with pytest.raises(DataNotFoundError, match=TEST_LBL):
        load_fashion_mnist(d)


def test_uncompressed_idx_files_are_accepted(tmp_path):
    d = make_dir(tmp_path / 'arg', 20, 10)
    for f in list(d.iterdir()):
        f.with_suffix('').write_bytes(gzip.decompress(f.read_bytes()))
        f.unlink()
    x, y = fashion_tensors('train', data_dir=d)
    assert len(x) == 20 and torch.equal(y, torch.from_numpy(sample_arrays('train')[1][:20]).long())


def test_nothing_available_lists_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.setattr(md, 'DEBIAN_DIR', tmp_path / 'no-debian')
    monkeypatch.setattr(md, 'SAMPLE_DIR', tmp_path / 'no-sample')
    with pytest.raises(DataNotFoundError) as e:
        load_fashion_mnist()
    msg = str(e.value)
    for expected in ('MINIAI_DATA', str(tmp_path / 'no-debian'), 'Hugging Face hub', 'hub unreachable',
                     str(tmp_path / 'no-sample'), 'apt install dataset-fashion-mnist', 'go online'):
        assert expected in msg


# --- the on-disk cache --------------------------------------------------------------------------

def test_second_call_reads_the_cache(tmp_path, fresh_cache):
    d = make_dir(tmp_path / 'arg')
    first = load_fashion_mnist(d)
    assert not md.last_source.from_cache and Path(md.last_source.cache).parent == fresh_cache
    second = load_fashion_mnist(d)
    assert md.last_source.from_cache and 'from cache' in second['train'].info.description
    assert second['train'][5]['label'] == first['train'][5]['label']
    assert len(list(fresh_cache.iterdir())) == 1


def test_changed_files_get_a_new_cache_entry(tmp_path, fresh_cache):
    d = make_dir(tmp_path / 'arg', 30, 10)
    load_fashion_mnist(d)
    make_dir(d, 20, 10)  # same names, new contents
    assert len(load_fashion_mnist(d)['train']) == 20 and not md.last_source.from_cache
    assert len(list(fresh_cache.iterdir())) == 2


def test_corrupt_file_leaves_no_cache_entry(tmp_path, fresh_cache):
    d = make_dir(tmp_path / 'arg', 30, 10)
    (d / TEST_IMG).write_bytes((d / TEST_IMG).read_bytes()[:100])
    with pytest.raises(IDXError):
        load_fashion_mnist(d)
    assert not fresh_cache.exists() or list(fresh_cache.iterdir()) == []


def test_failed_save_leaves_nothing_half_built(tmp_path, fresh_cache, monkeypatch):
    def broken_save(self, path, **kw):
        Path(path).mkdir(parents=True, exist_ok=True)
        Path(path, 'partial').write_text('x')
        raise OSError('disk full (test)')
    monkeypatch.setattr(datasets.DatasetDict, 'save_to_disk', broken_save)
    dsd = load_fashion_mnist(make_dir(tmp_path / 'arg', 30, 10))
    assert len(dsd['train']) == 30 and md.last_source.cache is None
    assert list(fresh_cache.iterdir()) == []


def test_a_build_killed_mid_write_is_swept_later_but_a_recent_one_is_left(tmp_path, fresh_cache):
    fresh_cache.mkdir(parents=True, exist_ok=True)
    stale, recent = fresh_cache / '.building-killed', fresh_cache / '.building-running'
    for p in (stale, recent):
        (p / 'train').mkdir(parents=True)
    old = time.time() - 2 * md.STALE_BUILD_S
    os.utime(stale, (old, old))
    load_fashion_mnist(make_dir(tmp_path / 'arg', 30, 10))
    assert not stale.exists() and recent.exists()


def test_unwritable_cache_is_skipped_quietly(tmp_path, monkeypatch):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    monkeypatch.setenv('MINIAI_CACHE', str(blocker / 'cache'))
    dsd = load_fashion_mnist(make_dir(tmp_path / 'arg', 30, 10))
    assert len(dsd['train']) == 30 and md.last_source.cache is None


def test_no_home_folder_means_no_cache_not_an_error(tmp_path, monkeypatch):
    def no_home(): raise RuntimeError('Could not determine home directory (test)')
    monkeypatch.setattr(md, '_cache_root', no_home)
    dsd = load_fashion_mnist(make_dir(tmp_path / 'arg', 30, 10))
    assert len(dsd['train']) == 30 and md.last_source.cache is None


# --- broken files -------------------------------------------------------------------------------

def test_bad_magic_names_the_file(tmp_path):
    d = make_dir(tmp_path / 'arg', 30, 10)
    x, _ = sample_arrays('train')
    write_idx(d / TRAIN_IMG, x[:30], type_code=0x0D)  # 0x0D = float: not what FashionMNIST holds
    with pytest.raises(IDXError, match=rf'{TRAIN_IMG}: bad magic number 00000d03'):
        fashion_tensors(data_dir=d)


def test_truncated_gzip_names_the_file(tmp_path):
    d = make_dir(tmp_path / 'arg', 30, 10)
    (d / TRAIN_IMG).write_bytes((d / TRAIN_IMG).read_bytes()[:-40])
    with pytest.raises(IDXError, match=rf'{TRAIN_IMG}: damaged or truncated gzip'):
        fashion_tensors(data_dir=d)


def test_wrong_size_in_header_names_the_file(tmp_path):
    d = make_dir(tmp_path / 'arg', 30, 10)
    x, _ = sample_arrays('train')
    write_idx(d / TRAIN_IMG, x[:30], dims=(31, 28, 28))
    with pytest.raises(IDXError, match=rf'{TRAIN_IMG}: header says shape \(31, 28, 28\)'):
        fashion_tensors(data_dir=d)


def test_label_count_mismatch_names_the_file(tmp_path):
    d = make_dir(tmp_path / 'arg', 30, 10)
    write_idx(d / TRAIN_LBL, sample_arrays('train')[1][:29])
    with pytest.raises(IDXError, match=rf'{TRAIN_LBL}: 29 labels but {TRAIN_IMG} holds 30 images'):
        load_fashion_mnist(d)


# --- the tensor fast path -----------------------------------------------------------------------

def test_fashion_tensors_shapes_and_normalisation():
    x, y = fashion_tensors('test', sample=True)
    assert x.shape == (1000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (1000,) and y.dtype == torch.int64
    raw, _ = sample_arrays('test')
    assert torch.allclose(x[:, 0], (torch.from_numpy(raw).float() / 255 - 0.28) / 0.35, atol=1e-6)
    x01, _ = fashion_tensors('test', sample=True, normalize=False)
    assert x01.min() == 0 and x01.max() == 1


def test_fashion_tensors_stratified_subset():
    x, y = fashion_tensors('train', sample=True, n=25)
    assert len(x) == 25 and np.bincount(y.numpy()).tolist() == [3] * 5 + [2] * 5
    _, full = fashion_tensors('train', sample=True)
    first = np.concatenate([np.flatnonzero(full.numpy() == c)[:3 if c < 5 else 2] for c in range(10)])
    assert torch.equal(y, full[np.sort(first)])


def test_fashion_tensors_rejects_unknown_split_and_oversized_n():
    with pytest.raises(ValueError, match='split'): fashion_tensors('valid', sample=True)
    with pytest.raises(ValueError, match='class'): fashion_tensors('test', sample=True, n=1010)


def test_tensor_dls_batches():
    x, y = torch.randn(100, 1, 28, 28), torch.arange(100)
    dls = tensor_dls(x, y, x[:50], y[:50], 16)
    xb, yb = next(iter(dls.train))
    assert xb.shape == (16, 1, 28, 28) and yb.shape == (16,)
    assert sorted(torch.cat([b for _, b in dls.train]).tolist()) == list(range(100))
    batches = list(dls.valid)
    assert [len(b) for _, b in batches] == [32, 18] and torch.equal(batches[0][0], x[:32])


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


