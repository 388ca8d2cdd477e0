"""miniai.data.fashion (with miniai.data.idx): FashionMNIST found offline, as a DatasetDict whose images
are decoded once into its Arrow storage (kept by `datasets` in its cache), and as plain tensors.

Every test runs offline: the hub loader is replaced, and `datasets`' cache lives in a temporary folder.
Most tests use the committed sample or small copies of it; the full 70k set is built once, if the
Debian package is installed.
"""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import datasets
import miniai.data.fashion as mf
from miniai.data.fashion import DataNotFoundError, fashion_tensors, load_fashion_mnist
from miniai.data.idx import IDX_FILES, IDXError, read_idx
from miniai.datasets import tensor_dls

SAMPLE = mf.SAMPLE_DIR
DEBIAN = mf.DEBIAN_DIR
HAVE_DEBIAN = all((DEBIAN / f).is_file() for pair in IDX_FILES.values() for f in pair)
TRAIN_IMG, TRAIN_LBL = IDX_FILES['train']
TEST_IMG, TEST_LBL = IDX_FILES['test']
NAMES = ['T - shirt / top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
         'Ankle boot']  # as the hub spells them
FEATURES = datasets.Features({'image': datasets.Array2D((28, 28), 'float32'), 'label': datasets.ClassLabel(names=NAMES)})
PNG_FEATURES = datasets.Features({'image': datasets.Image(), 'label': datasets.ClassLabel(names=NAMES)})


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
    img, lbl = IDX_FILES[split]
    return read_idx(SAMPLE / img), read_idx(SAMPLE / lbl)


def make_dir(path, n_train=None, n_test=None):
    "A folder of IDX files holding the first `n_train`/`n_test` rows of the committed sample (all if None)."
    path.mkdir(parents=True, exist_ok=True)
    for split, n in (('train', n_train), ('test', n_test)):
        x, y = sample_arrays(split)
        img, lbl = IDX_FILES[split]
        write_idx(path / img, x[:n])
        write_idx(path / lbl, y[:n])
    return path


@pytest.fixture(scope='session')
def session_cache(tmp_path_factory): return tmp_path_factory.mktemp('hf-datasets-cache')


@pytest.fixture(autouse=True)
def isolated(monkeypatch, session_cache):
    "No network, no user settings, `datasets`' cache in a temp folder; no hub unless a test says so."
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_DATASETS_OFFLINE', '1')
    monkeypatch.delenv('MINIAI_DATA', raising=False)
    monkeypatch.setattr(datasets.config, 'HF_DATASETS_CACHE', session_cache)
    def no_hub(): raise ConnectionError('hub unreachable (test)')
    monkeypatch.setattr(mf, '_load_from_hub', no_hub)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    cache = tmp_path / 'cache'
    monkeypatch.setattr(datasets.config, 'HF_DATASETS_CACHE', cache)
    return cache


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(mf, 'DEBIAN_DIR', tmp_path / 'no-debian')


@pytest.fixture(scope='session')
def sample_dsd(session_cache):
    with pytest.MonkeyPatch.context() as mp:  # session fixtures run outside the per-test monkeypatch
        mp.setattr(datasets.config, 'HF_DATASETS_CACHE', session_cache)
        return load_fashion_mnist(sample=True)


def png_dsd(n=20):
    "The first `n` rows of each split of the sample as the hub stores them: PNG images."
    return datasets.DatasetDict({split: datasets.Dataset.from_dict(
        {'image': [Image.fromarray(a) for a in sample_arrays(split)[0][:n]],
         'label': sample_arrays(split)[1][:n].tolist()}, features=PNG_FEATURES) for split in IDX_FILES})


def pixels(row):
    "A stored image (float32 pixels/255) as its uint8 pixels; checks that every value is exactly k/255."
    a = np.asarray(row['image'], dtype=np.float32)
    p = np.rint(a * 255).astype(np.uint8)
    assert np.array_equal(a, p.astype(np.float32) / np.float32(255))
    return p


def source_line(capsys):
    "The line the last load printed, saying where FashionMNIST came from."
    return [l for l in capsys.readouterr().out.splitlines() if l.startswith('FashionMNIST: ')][-1]


# --- the DatasetDict matches the hub's ----------------------------------------------------------

def test_sample_has_decoded_images_and_the_hubs_labels(sample_dsd):
    assert list(sample_dsd) == ['train', 'test']
    assert {k: len(v) for k, v in sample_dsd.items()} == {'train': 3000, 'test': 1000}
    for ds in sample_dsd.values(): assert ds.features == FEATURES


def test_sample_is_stratified(sample_dsd):
    assert np.bincount(sample_dsd['train'][:]['label']).tolist() == [300] * 10
    assert np.bincount(sample_dsd['test'][:]['label']).tolist() == [100] * 10


def test_sample_first_image_matches_raw_bytes(sample_dsd):
    row = sample_dsd['train'][0]
    data, off = raw_idx(SAMPLE / TRAIN_IMG)
    assert pixels(row).shape == (28, 28) and pixels(row).tobytes() == data[off:off + 784]
    labels, loff = raw_idx(SAMPLE / TRAIN_LBL)
    assert row['label'] == labels[loff]


def test_stored_images_are_what_to_tensor_makes_of_the_pixels(sample_dsd):
    "float32 pixels/255, equal bit for bit to TF.to_tensor of the uint8 pixels, and passed through unchanged by it."
    import torchvision.transforms.functional as TF
    x, _ = sample_arrays('train')
    stored = sample_dsd['train'].with_format('numpy')[:8]['image']
    assert stored.dtype == np.float32
    for a, raw in zip(stored, x):
        assert torch.equal(torch.from_numpy(a)[None], TF.to_tensor(raw))
        assert torch.equal(TF.to_tensor(a), TF.to_tensor(Image.fromarray(raw)))


def test_sample_licence_is_committed_and_referenced_beside_the_projects():
    text = (SAMPLE / 'LICENSE.txt').read_text()
    assert 'Zalando SE' in text and 'Permission is hereby granted' in text
    project = (Path(mf.__file__).parents[2] / 'LICENSE').read_text()
    assert 'Apache License' in project and 'Version 2.0, January 2004' in project
    assert 'miniai/data/fashion_mnist_sample/LICENSE.txt' in project


@pytest.mark.skipif(not HAVE_DEBIAN, reason=f'Debian package dataset-fashion-mnist not installed ({DEBIAN})')
def test_full_dataset_from_debian(capsys):
    dsd = load_fashion_mnist()
    assert source_line(capsys).startswith('FashionMNIST: Debian package ')
    assert {k: len(v) for k, v in dsd.items()} == {'train': 60000, 'test': 10000}
    assert dsd['train'].features == FEATURES
    data, off = raw_idx(DEBIAN / TRAIN_IMG)
    first = dsd['train'][0]
    assert pixels(first).tobytes() == data[off:off + 784]
    assert first['label'] == 9  # the first training image is an ankle boot
    assert 'Debian package' in dsd['train'].info.description


# --- which source wins --------------------------------------------------------------------------

def test_explicit_dir_beats_miniai_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('MINIAI_DATA', str(make_dir(tmp_path / 'env', 30, 10)))
    x, _ = fashion_tensors(data_dir=make_dir(tmp_path / 'arg', 40, 10))
    assert source_line(capsys).startswith('FashionMNIST: directory ') and len(x) == 40


def test_miniai_data_beats_debian(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mf, 'DEBIAN_DIR', make_dir(tmp_path / 'deb', 50, 10))
    monkeypatch.setenv('MINIAI_DATA', str(make_dir(tmp_path / 'env', 30, 10)))
    x, _ = fashion_tensors()
    assert source_line(capsys).startswith('FashionMNIST: MINIAI_DATA directory ') and len(x) == 30


def test_debian_beats_hub(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mf, 'DEBIAN_DIR', make_dir(tmp_path / 'deb', 50, 10))
    calls = []
    monkeypatch.setattr(mf, '_load_from_hub', lambda: calls.append(1))
    x, _ = fashion_tensors()
    assert source_line(capsys).startswith('FashionMNIST: Debian package ') and len(x) == 50 and calls == []


def test_hub_beats_sample_and_its_png_images_are_decoded(no_debian, monkeypatch, capsys):
    monkeypatch.setattr(mf, '_load_from_hub', png_dsd)
    dsd = load_fashion_mnist()
    assert source_line(capsys).startswith('FashionMNIST: Hugging Face hub ') and len(dsd['train']) == 20
    assert dsd['train'].features == FEATURES
    assert pixels(dsd['test'][7]).tobytes() == sample_arrays('test')[0][7].tobytes()


def test_hub_dataset_converts_to_tensors(no_debian, monkeypatch):
    monkeypatch.setattr(mf, '_load_from_hub', lambda: png_dsd(50))
    x, y = fashion_tensors('test')
    xs, ys = fashion_tensors('test', sample=True)
    assert torch.equal(x, xs[:50]) and torch.equal(y, ys[:50])


def test_the_hubs_images_are_decoded_once_into_datasets_cache(tmp_path):
    png_dsd(30).save_to_disk(str(tmp_path / 'hub'))  # disk-backed, as load_dataset's splits are
    hub = datasets.load_from_disk(str(tmp_path / 'hub'))
    first, second = mf._decoded(hub), mf._decoded(hub)
    files = first['train'].cache_files
    assert len(files) == 1 and Path(files[0]['filename']).parent == tmp_path / 'hub' / 'train'
    assert second['train'].cache_files == files


def test_sample_is_the_last_resort_and_warns(no_debian, capsys):
    with pytest.warns(UserWarning, match='committed sample'):
        dsd = load_fashion_mnist()
    assert source_line(capsys).startswith('FashionMNIST: committed sample ') and len(dsd['train']) == 3000


def test_sample_true_skips_every_other_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mf, 'DEBIAN_DIR', make_dir(tmp_path / 'deb', 50, 10))
    monkeypatch.setenv('MINIAI_DATA', str(make_dir(tmp_path / 'env', 30, 10)))
    x, _ = fashion_tensors(sample=True, data_dir=make_dir(tmp_path / 'arg', 40, 10))
    assert source_line(capsys).startswith('FashionMNIST: committed sample ') and len(x) == 3000


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
    monkeypatch.setattr(mf, 'DEBIAN_DIR', tmp_path / 'no-debian')
    monkeypatch.setattr(mf, 'SAMPLE_DIR', tmp_path / 'no-sample')
    with pytest.raises(DataNotFoundError) as e:
        load_fashion_mnist()
    msg = str(e.value)
    for expected in ('MINIAI_DATA', str(tmp_path / 'no-debian'), 'Hugging Face hub', 'hub unreachable',
                     str(tmp_path / 'no-sample'), 'apt install dataset-fashion-mnist', 'go online'):
        assert expected in msg


# --- datasets' cache -------------------------------------------------------------------------

def arrow_files(cache): return sorted(p.name for p in cache.rglob('*.arrow'))


def test_a_second_load_reads_what_the_first_wrote(tmp_path, fresh_cache):
    d = make_dir(tmp_path / 'arg')
    first = load_fashion_mnist(d)
    files = arrow_files(fresh_cache)
    assert len(files) == 2 and first['train'].cache_files[0]['filename'].startswith(str(fresh_cache))
    second = load_fashion_mnist(d)
    assert second['train'].cache_files == first['train'].cache_files and arrow_files(fresh_cache) == files
    assert pixels(second['train'][5]).tobytes() == pixels(first['train'][5]).tobytes()


def test_changed_files_are_read_again(tmp_path, fresh_cache):
    d = make_dir(tmp_path / 'arg', 30, 10)
    before = load_fashion_mnist(d)['train'].cache_files
    make_dir(d, 20, 10)  # same names, new contents
    again = load_fashion_mnist(d)['train']
    assert len(again) == 20 and again.cache_files != before


def test_corrupt_file_is_an_error_naming_it(tmp_path, fresh_cache):
    d = make_dir(tmp_path / 'arg', 30, 10)
    (d / TEST_IMG).write_bytes((d / TEST_IMG).read_bytes()[:100])
    with pytest.raises(IDXError, match=TEST_IMG):
        load_fashion_mnist(d)


def test_unwritable_cache_builds_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    monkeypatch.setattr(datasets.config, 'HF_DATASETS_CACHE', blocker / 'cache')
    dsd = load_fashion_mnist(make_dir(tmp_path / 'arg', 30, 10))
    assert len(dsd['train']) == 30 and dsd['train'].cache_files == [] and blocker.is_file()


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


