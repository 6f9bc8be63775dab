"""The CIFAR readers on the real files: folders, archives, python version, errors."""
import os
import pickle

import mxnet as mx
import numpy as np
import pytest

from gluon_pydmn import data as D


def test_cifar10_binary_folder(data_root, cifar10_test):
    train = D.CIFAR10(data_root, train=True)
    assert (len(train), len(cifar10_test)) == (50000, 10000)
    assert cifar10_test.images.shape == (10000, 32, 32, 3) and cifar10_test.images.dtype == np.uint8
    assert np.bincount(cifar10_test.labels).tolist() == [1000] * 10
    assert np.bincount(train.labels).tolist() == [5000] * 10
    img, label = cifar10_test[0]
    assert isinstance(img, mx.nd.NDArray) and img.shape == (32, 32, 3) and label == 3  # a cat
    assert cifar10_test.num_classes == 10 and cifar10_test.label_set == 'cifar10'


def test_cifar100_label_modes(data_root, cifar100_test):
    fine, coarse = cifar100_test['fine'], cifar100_test['coarse']
    assert np.bincount(fine.labels).tolist() == [100] * 100
    assert np.bincount(coarse.labels).tolist() == [500] * 20
    assert np.array_equal(fine.images, coarse.images)
    assert (fine.num_classes, coarse.num_classes) == (100, 20)
    # every fine class lies inside exactly one coarse superclass
    pairs = set(zip(fine.labels.tolist(), coarse.labels.tolist()))
    assert len(pairs) == 100
    assert len(D.CIFAR100(data_root, train=True, label_mode='fine')) == 50000


def test_cifar100_needs_explicit_label_mode(data_root):
    with pytest.raises(ValueError, match="label_mode='fine'"):
        D.CIFAR100(data_root, train=False)


def test_reads_official_archives_once(data_root, tmp_path, monkeypatch, cifar10_test, cifar100_test):
    for archive in ('cifar-10-binary.tar.gz', 'cifar-100-binary.tar.gz'):
        src = os.path.join(data_root, archive)
        assert os.path.isfile(src), 'make data writes the archives too (materialize.py --archives)'
        os.symlink(src, tmp_path / archive)
    monkeypatch.setenv('GLUON_PYDMN_CACHE', str(tmp_path / 'cache'))
    ds = D.CIFAR10(str(tmp_path), train=False)
    assert ds.folder == str(tmp_path / 'cache' / 'cifar' / 'cifar-10-batches-bin')
    assert np.array_equal(ds.images, cifar10_test.images)
    assert np.array_equal(ds.labels, cifar10_test.labels)
    mtime = os.path.getmtime(ds.folder)
    again = D.CIFAR10(str(tmp_path), train=False)  # extracted once: reused
    assert again.folder == ds.folder and os.path.getmtime(ds.folder) == mtime
    c100 = D.CIFAR100(str(tmp_path), train=False, label_mode='coarse')
    assert np.array_equal(c100.labels, cifar100_test['coarse'].labels)


def test_reads_python_version(tmp_path, cifar10_test, cifar100_test):
    """The python-version pickles (written here from the real binary data) read identically."""
    c10 = tmp_path / 'cifar-10-batches-py'
    c10.mkdir()
    for i in range(1, 6):
        (c10 / ('data_batch_%d' % i)).write_bytes(b'')  # only the test split is read below
    flat = lambda images: images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    with open(c10 / 'test_batch', 'wb') as f:
        pickle.dump({b'data': flat(cifar10_test.images), b'labels': cifar10_test.labels.tolist()}, f)
    ds = D.CIFAR10(str(tmp_path), train=False)
    assert ds.version == 'python'
    assert np.array_equal(ds.images, cifar10_test.images) and np.array_equal(ds.labels, cifar10_test.labels)
    c100 = tmp_path / 'cifar-100-python'
    c100.mkdir()
    with open(c100 / 'test', 'wb') as f:
        pickle.dump({b'data': flat(cifar100_test['fine'].images),
                     b'fine_labels': cifar100_test['fine'].labels.tolist(),
                     b'coarse_labels': cifar100_test['coarse'].labels.tolist()}, f)
    for mode in ('fine', 'coarse'):
        ds = D.CIFAR100(str(tmp_path), train=False, label_mode=mode)
        assert np.array_equal(ds.labels, cifar100_test[mode].labels)


def test_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(D.DataNotFoundError) as err:
        D.CIFAR10(str(tmp_path / 'nowhere'), train=False)
    msg = str(err.value)
    assert str(tmp_path / 'nowhere') in msg and 'cifar-10-binary.tar.gz' in msg
    assert 'GLUON_PYDMN_DATA' in msg and 'gluon-pydmn download data' in msg


def test_truncated_file_is_reported(data_root, tmp_path):
    folder = tmp_path / 'cifar-10-batches-bin'
    folder.mkdir()
    with open(os.path.join(data_root, 'cifar-10-batches-bin', 'test_batch.bin'), 'rb') as f:
        (folder / 'test_batch.bin').write_bytes(f.read(3073 * 10 + 100))
    with pytest.raises(D.DataNotFoundError, match='truncated or corrupt'):
        D.CIFAR10(str(tmp_path), train=False)


def test_corrupt_archive_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv('GLUON_PYDMN_CACHE', str(tmp_path / 'cache'))
    (tmp_path / 'cifar-10-binary.tar.gz').write_bytes(b'not a tar file')
    with pytest.raises(D.DataNotFoundError, match='cifar-10-binary.tar.gz'):
        D.CIFAR10(str(tmp_path), train=False)


def test_test_transform_matches_batch_normalisation(cifar10_test):
    batch = D.normalize_images(cifar10_test.images[:4]).asnumpy()
    single = D.test_transform()(mx.nd.array(cifar10_test.images[1], dtype=np.uint8)).asnumpy()
    np.testing.assert_allclose(single, batch[1], rtol=1e-6)
    expected = (cifar10_test.images[1].transpose(2, 0, 1) / 255.0 - np.array(D.CIFAR_MEAN)[:, None, None]) \
        / np.array(D.CIFAR_STD)[:, None, None]
    np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-5)


def test_train_transform_pads_with_zeros_crops_and_flips():
    """4-pixel zero pad + random 32x32 crop + random flip, then ToTensor/Normalize."""
    mx.random.seed(0)
    np.random.seed(0)
    img = mx.nd.array(np.full((32, 32, 3), 200, dtype=np.uint8), dtype=np.uint8)
    img[:, :16] = 100  # left half darker: a flip moves it to the right
    zero = (0 - D.CIFAR_MEAN[0]) / D.CIFAR_STD[0]
    dark = (100 / 255.0 - D.CIFAR_MEAN[0]) / D.CIFAR_STD[0]
    transform = D.train_transform()
    pads, flips = set(), set()
    for _ in range(80):
        out = transform(img).asnumpy()
        assert out.shape == (3, 32, 32) and out.dtype == np.float32
        row = out[0, 16]
        padded = np.isclose(row, zero, atol=1e-4)
        pads.add((int(padded[:4].sum()), int(padded[-4:].sum())))
        inside = row[~padded]
        flips.add(bool(np.isclose(inside[-1], dark, atol=1e-4)))
    assert len(pads) > 3                  # the crop offset varies
    assert (0, 0) in pads or len(pads) > 5
    assert flips == {True, False}         # flipped sometimes, not always


def test_batched_augmentation_is_a_zero_padded_crop_with_flips(cifar10_test):
    """Every output is one of the 81 crops of the 4-pixel zero-padded image, maybe flipped;
    all 81 offsets and both flips occur, from a seeded generator."""
    image = cifar10_test.images[:1]
    out = D.random_crop_flip(np.repeat(image, 600, axis=0), np.random.RandomState(0))
    assert out.shape == (600, 32, 32, 3) and out.dtype == np.uint8
    padded = np.pad(image[0], ((4, 4), (4, 4), (0, 0)))
    candidates = {(dy, dx, flip): padded[dy:dy + 32, dx:dx + 32][:, ::-1 if flip else 1]
                  for dy in range(9) for dx in range(9) for flip in (False, True)}
    found = []
    for crop in out:
        matches = [key for key, c in candidates.items() if np.array_equal(crop, c)]
        assert matches, 'not a crop of the padded image'
        found.append(matches[0])
    assert len({(dy, dx) for dy, dx, _ in found}) == 81
    assert 0.4 < np.mean([flip for _, _, flip in found]) < 0.6
    again = D.random_crop_flip(np.repeat(image, 600, axis=0), np.random.RandomState(0))
    assert np.array_equal(out, again)
