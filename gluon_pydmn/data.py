"""CIFAR-10 / CIFAR-100 from the official archives or folders, and the paper's transforms.

A data root holds any of the official releases, as archives or extracted:

=============  ==================================  ==========================
dataset        binary version                      python version
=============  ==================================  ==========================
CIFAR-10       ``cifar-10-binary.tar.gz`` or       ``cifar-10-python.tar.gz``
               ``cifar-10-batches-bin/``           or ``cifar-10-batches-py/``
CIFAR-100      ``cifar-100-binary.tar.gz`` or      ``cifar-100-python.tar.gz``
               ``cifar-100-binary/``               or ``cifar-100-python/``
=============  ==================================  ==========================

Archives are extracted once into ``<cache>/cifar`` (``$GLUON_PYDMN_CACHE``).
The root is ``root=``, else ``$GLUON_PYDMN_DATA``, else ``~/.cache/gluon_pydmn/data``;
with ``download=True`` a missing binary archive is fetched from the official
site (needs internet).

CIFAR-100 has two label sets: 100 *fine* classes (the standard benchmark) and
20 *coarse* superclasses. :class:`CIFAR100` makes you choose.
"""
import copy
import os
import pickle
import shutil
import sys
import tarfile

import numpy as np
from mxnet import nd
from mxnet.gluon.data import Dataset
from mxnet.gluon.data.vision import transforms

from . import cli
from .catalog import LABEL_SETS, label_set as _label_set
from .errors import DataNotFoundError
from .utils import atomic_path, cache_dir, write_text
from .utils import download as download_file

__all__ = ['CIFAR_MEAN', 'CIFAR_STD', 'ENV_DATA', 'LABEL_SETS', 'DataNotFoundError', 'CIFAR10',
           'CIFAR100', 'get_dataset', 'default_data_root', 'train_transform', 'random_crop_flip',
           'test_transform', 'normalize_images', 'augmented_batch', 'check_raw_dataset']

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
ENV_DATA = 'GLUON_PYDMN_DATA'
OFFICIAL_URL = 'https://www.cs.toronto.edu/~kriz/'

# dataset -> {version: (archive, folder)}
_RELEASES = {
    'cifar10': {'binary': ('cifar-10-binary.tar.gz', 'cifar-10-batches-bin'),
                'python': ('cifar-10-python.tar.gz', 'cifar-10-batches-py')},
    'cifar100': {'binary': ('cifar-100-binary.tar.gz', 'cifar-100-binary'),
                 'python': ('cifar-100-python.tar.gz', 'cifar-100-python')},
}


def default_data_root():
    """``$GLUON_PYDMN_DATA``, else ``~/.cache/gluon_pydmn/data``."""
    return os.path.expanduser(os.environ.get(ENV_DATA) or os.path.join(cache_dir(), 'data'))


def _extract_once(archive, folder):
    """Extract ``archive`` into the cache (atomically) and return the path of ``folder`` there."""
    target_root = os.path.join(cache_dir(), 'cifar')
    target = os.path.join(target_root, folder)
    stamp = os.path.join(target_root, '.%s.from' % folder)
    src = '%s %d' % (os.path.abspath(archive), os.path.getsize(archive))
    if os.path.isdir(target) and os.path.isfile(stamp) and open(stamp).read() == src:
        return target
    with atomic_path(target + '.extract') as tmp:
        os.remove(tmp)
        try:
            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if m.name.split('/')[0] == folder]
                if not members:
                    raise DataNotFoundError('%s does not contain the folder %s/: not an official '
                                            'CIFAR archive' % (archive, folder))
                tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataNotFoundError('cannot extract %s (truncated or corrupt?): %s; delete it and '
                                    'fetch it again' % (archive, e)) from e
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(os.path.join(tmp, folder), target)
    write_text(stamp, src)
    return target


def _locate(dataset, root, download):
    """Return ``(version, folder)`` of the extracted release of ``dataset`` under ``root``."""
    releases = _RELEASES[dataset]
    for version, (archive, folder) in releases.items():
        if os.path.isdir(os.path.join(root, folder)):
            return version, os.path.join(root, folder)
    for version, (archive, folder) in releases.items():
        if os.path.isfile(os.path.join(root, archive)):
            return version, _extract_once(os.path.join(root, archive), folder)
    if download:
        archive, folder = releases['binary']
        os.makedirs(root, exist_ok=True)
        print('downloading %s%s into %s' % (OFFICIAL_URL, archive, root), file=sys.stderr)
        download_file(OFFICIAL_URL + archive, os.path.join(root, archive), DataNotFoundError,
                      'fetch the file another way and put it there')
        return 'binary', _extract_once(os.path.join(root, archive), folder)
    wanted = ' or '.join('%s (or its extracted %s/)' % r for r in releases.values())
    raise DataNotFoundError(
        '%s not found in %s: put %s there (from %s), set $%s or root= to the folder that holds '
        'them, or pass download=True (`gluon-pydmn download data`; see docs/data-and-weights.md).'
        % (dataset.upper(), root, wanted, OFFICIAL_URL, ENV_DATA))


def _read_binary(path, n_labels):
    """Records of ``n_labels`` label bytes then 3072 pixel bytes (R, G, B planes)."""
    raw = np.fromfile(path, dtype=np.uint8)
    width = n_labels + 3072
    if raw.size == 0 or raw.size % width:
        raise DataNotFoundError('%s is not a CIFAR binary file of %d-byte records (size %d): '
                                'truncated or corrupt?' % (path, width, raw.size))
    raw = raw.reshape(-1, width)
    images = raw[:, n_labels:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), [raw[:, i].astype(np.int32) for i in range(n_labels)]


def _read_pickle(path, label_keys):
    try:
        with open(path, 'rb') as f:
            batch = pickle.load(f, encoding='bytes')
    except (OSError, pickle.UnpicklingError, EOFError) as e:
        raise DataNotFoundError('cannot read %s: %s' % (path, e)) from e
    images = np.asarray(batch[b'data'], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), [np.asarray(batch[k], dtype=np.int32) for k in label_keys]


def _files(dataset, version, train):
    if dataset == 'cifar10':
        names = ['data_batch_%d' % i for i in range(1, 6)] if train else ['test_batch']
        return [n + '.bin' for n in names] if version == 'binary' else names
    name = 'train' if train else 'test'
    return [name + '.bin'] if version == 'binary' else [name]


def _load_arrays(dataset, version, folder, train):
    """Images ``(N, 32, 32, 3)`` uint8 and label columns (CIFAR-100: coarse, fine)."""
    images, labels = [], []
    for name in _files(dataset, version, train):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise DataNotFoundError('%s is missing: the folder %s is incomplete' % (path, folder))
        if version == 'binary':
            imgs, cols = _read_binary(path, 1 if dataset == 'cifar10' else 2)
        else:
            keys = [b'labels'] if dataset == 'cifar10' else [b'coarse_labels', b'fine_labels']
            imgs, cols = _read_pickle(path, keys)
        images.append(imgs)
        labels.append(cols)
    return np.concatenate(images), [np.concatenate(c) for c in zip(*labels)]


class _RawImages(Dataset):
    """Base of the datasets that training and evaluation read directly: raw ``(H, W, 3)``
    uint8 images in ``.images``, int32 labels in ``.labels``.

    Subclasses set ``images``, ``labels``, ``train``, ``label_set``, ``class_names``,
    ``mean`` and ``std`` (the normalisation to use them with, 0-1 scale) and
    ``_transform``; :func:`check_raw_dataset` accepts exactly these datasets.
    """

    _transform = None

    @property
    def num_classes(self):
        """Classes in the labels: ``len(class_names)`` (CIFAR: 10, 100 or 20, as
        :data:`gluon_pydmn.catalog.LABEL_SETS`)."""
        return len(self.class_names)

    def __len__(self):
        return len(self.labels)

    def _subset_indices(self, n):
        """Indices of the images :meth:`subset` keeps: the first ``n``."""
        return slice(0, n)

    def subset(self, n):
        """A copy holding only ``n`` images (e.g. for a quick trial run): the first ``n`` of a
        CIFAR reader, ``n`` spread over all the classes of an ``ImageFolder``."""
        if not 1 <= n <= len(self):
            raise ValueError('subset size must be between 1 and %d, got %r' % (len(self), n))
        out = copy.copy(self)
        keep = self._subset_indices(n)
        out.images, out.labels = self.images[keep], self.labels[keep]
        return out

    def __getitem__(self, idx):
        img, label = nd.array(self.images[idx], dtype=np.uint8), self.labels[idx]
        if self._transform is not None:
            return self._transform(img, label)
        return img, label


class _CIFAR(_RawImages):
    """CIFAR images as ``(32, 32, 3)`` uint8 NDArrays with int32 labels."""

    dataset = None
    mean = CIFAR_MEAN
    std = CIFAR_STD

    def __init__(self, root, train, transform, download, label_column):
        self.root = os.path.expanduser(root or default_data_root())
        self.train = train
        self.version, self.folder = _locate(self.dataset, self.root, download)
        images, columns = _load_arrays(self.dataset, self.version, self.folder, train)
        self.images, self.labels = images, columns[label_column]
        self._transform = transform

    @property
    def class_names(self):
        """The name of each label, in label order, from the dataset's own label-name files
        (:attr:`gluon_pydmn.catalog.LabelSet.class_names`)."""
        return LABEL_SETS[self.label_set].class_names

    def __repr__(self):
        return '%s(%s, %d images, label_set=%r, from %s)' % (
            type(self).__name__, 'train' if self.train else 'test', len(self), self.label_set,
            self.folder)


class CIFAR10(_CIFAR):
    """CIFAR-10 (10 classes).

    Parameters
    ----------
    root : str, optional
        Folder holding the official archive or extracted folder (binary or
        python version); default :func:`default_data_root`.
    train : bool, default True
        Training (50,000) or test (10,000) images.
    transform : callable, optional
        ``transform(img, label) -> (img, label)``, as in Gluon datasets; most
        users call ``dataset.transform_first(test_transform())`` instead.
    download : bool, default False
        Fetch the official binary archive if nothing is found.

    Attributes
    ----------
    images : numpy.ndarray
        ``(N, 32, 32, 3)`` uint8.
    labels : numpy.ndarray
        ``(N,)`` int32.
    class_names : tuple of str
        The name of each label (``'airplane'``, ...).
    mean, std : tuple of float
        The normalisation to use the images with: :data:`CIFAR_MEAN`, :data:`CIFAR_STD`.
    """
    dataset = 'cifar10'
    label_set = 'cifar10'

    def __init__(self, root=None, train=True, transform=None, download=False):
        super().__init__(root, train, transform, download, 0)


class CIFAR100(_CIFAR):
    """CIFAR-100 with an explicit choice of labels.

    Parameters
    ----------
    root, train, transform, download
        As in :class:`CIFAR10`.
    label_mode : {'fine', 'coarse'}
        Required. ``'fine'``: the 100 classes of the standard benchmark.
        ``'coarse'``: the 20 superclasses, which the authors' released
        CIFAR-100 weights (and the paper's CIFAR-100 column) use.

    Attributes
    ----------
    images, labels, mean, std
        As in :class:`CIFAR10`.
    class_names : tuple of str
        The 100 fine or 20 coarse label names, in label order.

    Notes
    -----
    Reads the official files without checking gluon's SHA-1s, so a copy with
    the official pixels and labels in another order within each class works;
    accuracy does not depend on the order.
    """
    dataset = 'cifar100'

    def __init__(self, root=None, train=True, label_mode=None, transform=None, download=False):
        if label_mode not in ('fine', 'coarse'):
            raise ValueError("CIFAR100 needs label_mode='fine' (100 classes, the standard "
                             "benchmark) or label_mode='coarse' (20 superclasses, as the authors' "
                             "released weights and the paper's CIFAR-100 column); got %r"
                             % (label_mode,))
        self.label_set = 'cifar100-' + label_mode
        super().__init__(root, train, transform, download, 0 if label_mode == 'coarse' else 1)


def get_dataset(label_set, train=False, root=None, download=False):
    """The dataset of a label set: ``'cifar10'``, ``'cifar100-fine'`` or ``'cifar100-coarse'``."""
    labels = _label_set(label_set)
    if labels.dataset == 'cifar10':
        return CIFAR10(root, train=train, download=download)
    return CIFAR100(root, train=train, label_mode=labels.name.split('-')[1], download=download)


def train_transform(mean=CIFAR_MEAN, std=CIFAR_STD):
    """The paper's training augmentation: 4-pixel zero pad + random 32x32 crop, random
    horizontal flip, then ``ToTensor`` and ``Normalize``."""
    from gluoncv.data import transforms as gcv_transforms
    return transforms.Compose([gcv_transforms.RandomCrop(32, pad=4),
                               transforms.RandomFlipLeftRight(),
                               transforms.ToTensor(),
                               transforms.Normalize(mean, std)])


def random_crop_flip(images, rng, pad=4):
    """:func:`train_transform`'s augmentation for a whole uint8 batch at once, from ``rng``.

    Each ``(H, W, C)`` image is zero-padded by ``pad`` pixels on every side, cropped back to
    ``H x W`` at a uniformly random offset and flipped left-right with probability 1/2. On two
    CPU cores this takes about 3 ms for 128 images, some 20 times less than the per-image
    transforms.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, H, W, C)``.
    rng : numpy.random.RandomState

    Returns
    -------
    numpy.ndarray
        Same shape and dtype.
    """
    n, h, w, _ = images.shape
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad) + images.shape[3:], images.dtype)
    padded[:, pad:pad + h, pad:pad + w] = images
    rows = rng.randint(0, 2 * pad + 1, n)[:, None] + np.arange(h)
    cols = rng.randint(0, 2 * pad + 1, n)[:, None] + np.arange(w)
    cols = np.where((rng.rand(n) < 0.5)[:, None], cols[:, ::-1], cols)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def test_transform(mean=CIFAR_MEAN, std=CIFAR_STD):
    """``ToTensor`` then ``Normalize``: the authors' test-time input."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])


def download(root=None):
    """Fetch (if missing) and extract both official binary archives into ``root``; return the
    extracted folders."""
    root = os.path.expanduser(root or default_data_root())
    return [_locate(dataset, root, download=True)[1] for dataset in _RELEASES]


def check_raw_dataset(dataset, user):
    """Refuse what ``user`` (e.g. ``'evaluate()'``) would misread: datasets other than this
    package's CIFAR readers and :class:`~gluon_pydmn.image_folder.ImageFolder`, or ones with a
    ``transform=``, which it would silently skip (it reads ``dataset.images`` and applies the
    paper's own transforms)."""
    if not isinstance(dataset, _RawImages):
        raise TypeError('%s takes a CIFAR10 or CIFAR100 dataset of gluon_pydmn.data or an '
                        'ImageFolder of gluon_pydmn.image_folder (raw images in .images, labels '
                        'in .labels), got %s; for other data, run the network on normalised '
                        'batches and score them with gluon_pydmn.evaluate.error_rate'
                        % (user, type(dataset).__name__))
    if dataset._transform is not None:
        raise ValueError('%s applies the paper\'s own transforms to the raw images and would ignore '
                         'this dataset\'s transform=%r: build the dataset without transform='
                         % (user, dataset._transform))


def normalize_images(images, mean=CIFAR_MEAN, std=CIFAR_STD, ctx=None):
    """A batch version of :func:`test_transform`: ``(N, 32, 32, 3)`` uint8 -> normalised NCHW float32."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise TypeError('expected raw images as (N, H, W, 3) uint8, as in dataset.images; got %s '
                        '%s. Images that are already normalised float32 NCHW go to the network '
                        'directly: net(mx.nd.array(x))' % (images.dtype, images.shape))
    x = nd.array(images, dtype=np.uint8, ctx=ctx)
    return nd.image.normalize(nd.image.to_tensor(x), mean=mean, std=std)


def augmented_batch(images, rng, ctx=None, mean=CIFAR_MEAN, std=CIFAR_STD):
    """A training input: :func:`random_crop_flip` from ``rng``, then :func:`normalize_images`
    with ``mean`` and ``std``.

    This is what training feeds the network, and what
    :func:`gluon_pydmn.evaluate.recompute_batchnorm` measures statistics on.
    """
    return normalize_images(random_crop_flip(images, rng), mean, std, ctx=ctx)


def main(argv=None):
    """``python -m gluon_pydmn.data download [DIR]``, as ``gluon-pydmn download data``."""
    p = cli.parser('Fetch (if missing) and extract the official CIFAR-10 and CIFAR-100 binary '
                   'archives.')
    sub = p.add_subparsers(dest='cmd', required=True)
    sub.add_parser('download', help='fetch and extract both archives (needs internet)').add_argument(
        'dst', nargs='?', default=None, help='data root (default $%s, else %s)'
        % (ENV_DATA, os.path.join('~', '.cache', 'gluon_pydmn', 'data')))
    args = p.parse_args(argv)
    folders = download(args.dst)
    for folder in folders:
        print(folder)
    return folders


if __name__ == '__main__':
    cli.run(main)
