"""Your own images as a dataset that training and evaluation read like the CIFAR readers.

The layout is the one GluonCV's and torchvision's ``ImageFolder`` read, one folder per split
and one sub-folder per class::

    root/train/<class>/*.png | *.jpg | *.jpeg
    root/val/<class>/...

Labels are the positions of the class folder names in sorted order (``class_names``); the
``val`` split takes the training split's class list (``classes=train.class_names``), so that
label ``k`` means the same class in both.

Every image is decoded once (Pillow) into uint8 RGB and brought to ``size`` x ``size``:

* **Resize**: an image that is not ``size`` x ``size`` is centre-cropped to a square whose
  side is its shorter side, then resized with Pillow's antialiased bilinear filter: the
  geometry of "resize the shorter side, then centre crop". Aspect ratios are kept; a
  non-square image loses the ends of its longer side. Counted in ``conversions['resized']``
  (and ``conversions['cropped']`` for non-square ones).
* **Colour**: grey (``'grey'``, also 1-bit), grey with alpha (``'grey+alpha'``), RGBA
  (``'RGBA'``), palette (``'palette'``), 16-bit grey (``'16-bit grey'``, scaled to 8 bits),
  CMYK and other Pillow modes (by mode name) are converted to RGB, each counted in
  ``conversions``. Alpha is dropped, not composited (as ``PIL.Image.convert('RGB')``, which
  torchvision uses). A JPEG's EXIF orientation is applied (``'rotated'``).
* **Unreadable files** (corrupt, truncated, not an image) are an error naming every such
  file; nothing is skipped. Delete or replace them.
* **Other files** (other extensions, hidden files and folders, files next to the class
  folders) are ignored, listed in ``ignored`` and announced in one warning with their count.

Nothing is cached: a folder is decoded each time an :class:`ImageFolder` is built.
"""
import hashlib
import os
import sys
import warnings
from collections import Counter

import numpy as np
from tqdm import tqdm

from .data import _RawImages
from .errors import DataNotFoundError, UserError

__all__ = ['IMAGE_EXTENSIONS', 'ImageFolderError', 'ImageFolder', 'load_train_val',
           'mean_std', 'check_uint8_images', 'decode_image', 'load_image_files',
           'write_image_folder']

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')
_LAYOUT = '<root>/<split>/<class>/<image>.png|.jpg|.jpeg, e.g. <root>/train/cat/0001.png'

# Pillow mode -> the name its conversion to RGB is counted under
_MODE_NOTES = {'1': 'grey', 'L': 'grey', 'LA': 'grey+alpha', 'La': 'grey+alpha',
               'RGBA': 'RGBA', 'RGBa': 'RGBA', 'RGBX': 'RGBA', 'P': 'palette', 'PA': 'palette'}


class ImageFolderError(UserError, ValueError):
    """An image folder that cannot be read as a dataset: no class folders, an empty class
    folder, undecodable files, a class the training split does not have."""


def check_uint8_images(x, size=None):
    """Return ``x`` as an array if it holds raw images, ``(N, H, W, 3)`` uint8 with N >= 1
    (and ``H == W == size`` if ``size`` is given); else raise ValueError saying what it is.

    Parameters
    ----------
    x : array_like
    size : int, optional

    Returns
    -------
    numpy.ndarray
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError('expected raw images as uint8 pixels 0-255 (as in dataset.images), got '
                         'dtype %s%s' % (x.dtype, ': images scaled to 0-1 or normalised cannot '
                                         'be told apart from others, pass the uint8 originals'
                                         if x.dtype.kind == 'f' else ''))
    if x.ndim != 4 or x.shape[3] != 3 or len(x) == 0:
        raise ValueError('expected raw images as an (N, H, W, 3) uint8 array with N >= 1 (RGB, '
                         'channels last, as in dataset.images), got shape %s' % (x.shape,))
    if size is not None and x.shape[1:3] != (size, size):
        raise ValueError('expected %dx%d images, got %dx%d'
                         % ((size, size) + tuple(x.shape[1:3])))
    return x


def mean_std(images, chunk=4096):
    """Per-channel mean and standard deviation of uint8 images, on the 0-1 scale of
    :data:`~gluon_pydmn.data.CIFAR_MEAN` (what ``Normalize`` takes).

    Exact: computed from per-channel histograms of all the pixels; the standard deviation is
    the population one (``ddof=0``) over all pixels. (On CIFAR-10's training images this gives
    the mean ``CIFAR_MEAN`` but a std of about (0.247, 0.243, 0.261): ``CIFAR_STD``,
    (0.2023, 0.1994, 0.2010), is the value commonly used, not the pixels' std.)

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, H, W, 3)`` uint8.
    chunk : int
        Images counted at a time (bounds the memory used).

    Returns
    -------
    (tuple of float, tuple of float)
        ``(mean, std)``, three values each (R, G, B).
    """
    images = check_uint8_images(images)
    counts = np.zeros((3, 256), np.int64)
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk]
        for c in range(3):
            counts[c] += np.bincount(block[..., c].ravel(), minlength=256)
    values = np.arange(256) / 255.0
    n = counts.sum(axis=1)
    mean = counts @ values / n
    var = (counts * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / n
    return tuple(float(m) for m in mean), tuple(float(s) for s in np.sqrt(var))


def _to_rgb(img):
    """A Pillow image as an ``(H, W, 3)`` uint8 RGB array, and the name of its conversion
    (None for an RGB image)."""
    mode = img.mode
    if mode == 'RGB':
        return np.asarray(img), None
    if mode.startswith('I'):  # 16-bit (or 32-bit integer) grey: 0-65535 -> 0-255
        grey = np.clip(np.rint(np.asarray(img, dtype=np.float64) / 257.0), 0, 255)
        return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2), '16-bit grey'
    if mode in ('P', 'PA') and (mode == 'PA' or 'transparency' in img.info):
        img = img.convert('RGBA')  # what Pillow asks for palettes with transparency
    return np.asarray(img.convert('RGB')), _MODE_NOTES.get(mode, mode)  # alpha dropped


def _square(rgb, size):
    """Centre-crop ``rgb`` to a square on its shorter side and resize it to ``size``; the
    notes (``'cropped'``, ``'resized'``) that apply."""
    from PIL import Image
    h, w = rgb.shape[:2]
    if (h, w) == (size, size):
        return rgb, ()
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(np.ascontiguousarray(rgb[top:top + side, left:left + side]))
    out = np.asarray(square.resize((size, size), Image.Resampling.BILINEAR))
    return out, ('resized', 'cropped') if h != w else ('resized',)


def decode_image(path, size=32):
    """One image file as ``(size, size, 3)`` uint8 RGB, by the rules of :mod:`this module
    <gluon_pydmn.image_folder>` (colour conversion, EXIF orientation, centre crop and resize).

    Parameters
    ----------
    path : str
    size : int

    Returns
    -------
    (numpy.ndarray, tuple of str)
        The image and what was done to it (``'grey'``, ``'RGBA'``, ``'rotated'``,
        ``'resized'``, ``'cropped'``, ...; empty for a ``size`` x ``size`` RGB image).

    Raises
    ------
    ImageFolderError
        The file cannot be read or decoded; the message names it.
    """
    from PIL import Image, ImageFile, ImageOps
    notes = []
    # GluonCV's data package sets Pillow's global LOAD_TRUNCATED_IMAGES on import, which
    # would decode a truncated file's missing rows as grey without a word
    tolerant, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        with Image.open(path) as img:
            img.load()
            if img.getexif().get(0x0112, 1) not in (0, 1):  # EXIF orientation tag
                img = ImageOps.exif_transpose(img)
                notes.append('rotated')
            rgb, colour = _to_rgb(img)
    except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError, ... on bad files
        raise ImageFolderError('cannot decode %s as an image (%s: %s)'
                               % (path, type(e).__name__, e)) from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = tolerant
    if colour:
        notes.append(colour)
    out, resize_notes = _square(rgb, size)
    return np.ascontiguousarray(out, dtype=np.uint8), tuple(notes) + resize_notes


def _decode_all(paths, size, progress, desc):
    """All ``paths`` decoded into one ``(N, size, size, 3)`` array, with the counts of the
    conversions; an error naming every file that cannot be decoded."""
    images = np.empty((len(paths), size, size, 3), np.uint8)
    conversions, bad = Counter(), []
    for i, path in enumerate(tqdm(paths, desc=desc, disable=not progress, leave=False)):
        try:
            images[i], notes = decode_image(path, size)
        except ImageFolderError as e:
            bad.append(str(e))
            continue
        conversions.update(notes)
    if bad:
        raise ImageFolderError('%d of %d files cannot be decoded; delete or replace them '
                               '(nothing is skipped):\n  %s%s'
                               % (len(bad), len(paths), '\n  '.join(bad[:20]),
                                  '\n  ... and %d more' % (len(bad) - 20) if len(bad) > 20
                                  else ''))
    return images, dict(sorted(conversions.items()))


def _check_size(size):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError('size must be a whole number of pixels >= 1, got %r' % (size,))
    return int(size)


def load_image_files(paths, size=32, progress=False, return_conversions=False):
    """Decode image files into one ``(N, size, size, 3)`` uint8 array, e.g. for ``predict``.

    Each file is read by :func:`decode_image` (colour conversion, EXIF orientation, centre
    crop and resize, as :class:`ImageFolder`); any format Pillow reads is accepted.

    Parameters
    ----------
    paths : sequence of str
    size : int
    progress : bool
    return_conversions : bool
        Also return the counts of the conversions (as :attr:`ImageFolder.conversions`).

    Returns
    -------
    numpy.ndarray, or (numpy.ndarray, dict)

    Raises
    ------
    ImageFolderError
        Naming every file that cannot be read or decoded.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError('no image files given')
    images, conversions = _decode_all(paths, _check_size(size), progress, 'decoding images')
    return (images, conversions) if return_conversions else images


def _check_layout(root, split):
    """The split folder ``root/split``, or :class:`DataNotFoundError` saying the layout."""
    if not os.path.isdir(root):
        raise DataNotFoundError('image folder %s does not exist (or is not a folder); expected '
                                'the layout %s' % (root, _LAYOUT))
    folder = os.path.join(root, split)
    if not os.path.isdir(folder):
        present = sorted(e for e in os.listdir(root) if os.path.isdir(os.path.join(root, e))
                         and not e.startswith('.'))
        raise DataNotFoundError('%s has no %r split folder (%s); expected the layout %s'
                                % (root, split, 'its folders: ' + ', '.join(present) if present
                                   else 'it holds no folders', _LAYOUT))
    return folder


def _class_files(class_dir, split_dir):
    """The image files under ``class_dir`` (recursively, sorted) and the other entries
    (relative to ``split_dir``): other extensions, hidden files and folders."""
    images, other = [], []
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        hidden = sorted(d for d in dirnames if d.startswith('.'))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        other += [os.path.relpath(os.path.join(dirpath, d), split_dir) + '/' for d in hidden]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith('.'):
                images.append(path)
            else:
                other.append(os.path.relpath(path, split_dir))
    return images, other


def _check_classes(classes, folders, split_dir):
    """The class list: ``classes`` (checked, and holding every folder) or the folders."""
    if classes is None:
        return tuple(folders)
    names = tuple(classes)
    if not names or len(set(names)) != len(names) or not all(
            isinstance(n, str) and n for n in names):
        raise ValueError('classes must be distinct non-empty folder names (e.g. '
                         'train.class_names), got %r' % (classes,))
    unknown = [f for f in folders if f not in names]
    if unknown:
        raise ImageFolderError(
            '%s has class folders that are not among the %d classes given (%s): %s; their '
            'images would have no label. Add them to the training split, or remove them'
            % (split_dir, len(names), _short_list(names), ', '.join(unknown)))
    return names


def _scan(split_dir, classes):
    """``(class_names, [(path, label)], ignored, absent)`` of the split folder ``split_dir``."""
    entries = sorted(os.listdir(split_dir))
    folders = [e for e in entries
               if os.path.isdir(os.path.join(split_dir, e)) and not e.startswith('.')]
    ignored = [e + ('/' if os.path.isdir(os.path.join(split_dir, e)) else '')
               for e in entries if e not in folders]
    if not folders:
        loose = sum(e.lower().endswith(IMAGE_EXTENSIONS) for e in entries)
        raise ImageFolderError('%s holds no class folders%s; expected the layout %s'
                               % (split_dir, ' (its %d images lie directly in it: move them '
                                  'into one folder per class)' % loose if loose else '', _LAYOUT))
    names = _check_classes(classes, folders, split_dir)
    files, empty = [], []
    for label, name in enumerate(names):
        if name not in folders:
            continue
        images, other = _class_files(os.path.join(split_dir, name), split_dir)
        if not images:
            empty.append('%s/ (%s)' % (name, '%d other files' % len(other) if other
                                       else 'empty'))
        files += [(path, label) for path in images]
        ignored += other
    if empty:
        raise ImageFolderError('%s: class folders without any .png/.jpg/.jpeg image: %s; add '
                               'images or remove the folders' % (split_dir, ', '.join(empty)))
    absent = tuple(n for n in names if n not in folders)
    return names, files, ignored, absent


def _short_list(names, limit=8):
    shown = ', '.join(names[:limit])
    return shown + (', ... (%d more)' % (len(names) - limit) if len(names) > limit else '')


def _describe_classes(names):
    """The ``label_set`` of an image folder: its classes, in label order (a digest of them
    all when they are many), so that a run folder is resumed only with the same classes."""
    if len(names) <= 8:
        return 'image-folder: %d classes (%s)' % (len(names), ', '.join(names))
    digest = hashlib.sha1('\n'.join(names).encode('utf-8')).hexdigest()[:10]
    return 'image-folder: %d classes (%s; sha1 %s)' % (len(names), _short_list(names, 4), digest)


def _check_normalisation(mean, std):
    if (mean is None) != (std is None):
        raise ValueError('give both mean= and std= (e.g. train.mean, train.std), or neither')
    if mean is None:
        return None
    mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError('mean and std must be three values each (R, G, B, 0-1 scale), std > 0; '
                         'got %r, %r' % (mean, std))
    return mean, std


class ImageFolder(_RawImages):
    """Images in ``root/<split>/<class>/*.png|jpg|jpeg``, decoded once into memory.

    Training (:func:`gluon_pydmn.train.train`) and evaluation
    (:func:`gluon_pydmn.evaluate.evaluate`) read it as they read
    :class:`~gluon_pydmn.data.CIFAR10`. Decoding, colour conversion, resize and the handling of
    bad or other files are described in :mod:`gluon_pydmn.image_folder`.

    Parameters
    ----------
    root : str
        The folder holding the split folders.
    split : str, default 'train'
        The split folder to read (``'train'``, ``'val'``, ...).
    size : int, default 32
        Side of the square images (32 for the paper's CIFAR networks and augmentation).
    classes : sequence of str, optional
        The class list, in label order: pass ``train.class_names`` for the other splits. Every
        class folder of the split must be in it (an error names the others); classes without
        a folder there get no images (:attr:`absent_classes`). Default: the split's own class
        folders, sorted.
    mean, std : sequence of 3 floats, optional
        The normalisation the images are to be used with (0-1 scale); pass ``train.mean`` and
        ``train.std`` for the other splits. Default: computed from this split's images
        (:func:`mean_std`).
    progress : bool, default True
        Show a progress bar while decoding and print :meth:`summary` to stderr.

    Attributes
    ----------
    images : numpy.ndarray
        ``(N, size, size, 3)`` uint8 RGB, sorted by class, then by path.
    labels : numpy.ndarray
        ``(N,)`` int32 positions in ``class_names``.
    files : tuple of str
        The file of each image.
    class_names : tuple of str
    label_set : str
        A description of the classes, e.g. ``'image-folder: 3 classes (cat, dog, fox)'``;
        recorded in training run folders, where it keeps another class list from resuming.
    mean, std : tuple of float
    conversions : dict
        What was done to how many images: ``'grey'``, ``'RGBA'``, ... (converted to RGB),
        ``'rotated'``, ``'resized'``, ``'cropped'``.
    ignored : tuple of str
        Entries of the split folder that are not images in a class folder (relative paths;
        folders end with ``/``).
    absent_classes : tuple of str
        Classes of ``classes`` without a folder in this split.
    train : bool
        Whether the split is ``'train'``.

    Raises
    ------
    DataNotFoundError
        ``root`` or its ``split`` folder does not exist.
    ImageFolderError
        No class folders, a class folder without images, files that cannot be decoded, a
        class folder not in ``classes``.
    """

    def __init__(self, root, split='train', size=32, classes=None, *, mean=None, std=None,
                 progress=True):
        self.size = _check_size(size)
        normalisation = _check_normalisation(mean, std)
        self.root, self.split = os.path.abspath(os.path.expanduser(os.fspath(root))), split
        self.folder = _check_layout(self.root, split)
        names, files, ignored, self.absent_classes = _scan(self.folder, classes)
        self.images, self.conversions = _decode_all(
            [path for path, _ in files], self.size, progress, 'decoding %s' % self.folder)
        self.labels = np.array([label for _, label in files], dtype=np.int32)
        self.files = tuple(path for path, _ in files)
        self.class_names, self.ignored = names, tuple(ignored)
        self.train = split == 'train'
        self.label_set = _describe_classes(names)
        self.mean, self.std = normalisation or mean_std(self.images)
        if self.ignored:
            warnings.warn('%s: ignored %d entries that are not .png/.jpg/.jpeg images in a class '
                          'folder (other extensions, hidden files, files beside the class '
                          'folders), e.g. %s; see .ignored'
                          % (self.folder, len(self.ignored), ', '.join(self.ignored[:3])),
                          stacklevel=2)
        if progress:
            print(self.summary(), file=sys.stderr)

    def summary(self):
        """One line: images, classes, conversions, ignored entries, absent classes."""
        parts = ['%s: %d images of %d classes, %dx%d' % (self.folder, len(self),
                                                         self.num_classes, self.size, self.size)]
        colour = {k: v for k, v in self.conversions.items()
                  if k not in ('resized', 'cropped', 'rotated')}
        if colour:
            parts.append('converted to RGB: ' + ', '.join('%d %s' % (v, k)
                                                          for k, v in colour.items()))
        for key, what in (('rotated', 'rotated by their EXIF orientation'),
                          ('resized', 'resized to %dx%d' % (self.size, self.size)),
                          ('cropped', 'centre-cropped (not square)')):
            if self.conversions.get(key):
                parts.append('%d %s' % (self.conversions[key], what))
        if self.ignored:
            parts.append('%d other entries ignored (.ignored)' % len(self.ignored))
        if self.absent_classes:
            parts.append('no folder for %d classes: %s' % (len(self.absent_classes),
                                                         _short_list(self.absent_classes)))
        return '; '.join(parts)

    def _subset_indices(self, n):
        """``n`` indices spread evenly over the images, which are sorted by class, so that
        the subset holds the classes in their proportions (the first ``n`` would hold only
        the first classes)."""
        return (np.arange(n) * len(self)) // n

    def subset(self, n):
        """A copy holding ``n`` images spread evenly over the folder (every class in its
        proportion), with their :attr:`files`; ``mean`` and ``std`` are kept."""
        out = super().subset(n)
        out.files = tuple(self.files[i] for i in self._subset_indices(n))
        return out

    def __repr__(self):
        return 'ImageFolder(%s, %d images, %d classes, %dx%d, from %s)' % (
            self.split, len(self), self.num_classes, self.size, self.size, self.folder)


def load_train_val(root, size=32, progress=True, splits=('train', 'val')):
    """The training split and another one of an image folder, the second with the first's
    class list and normalisation.

    Returns
    -------
    (ImageFolder, ImageFolder)
    """
    train = ImageFolder(root, splits[0], size, progress=progress)
    other = ImageFolder(root, splits[1], size, classes=train.class_names, mean=train.mean,
                        std=train.std, progress=progress)
    return train, other


def _wanted_labels(classes, names):
    """Label indices for ``classes`` (names or indices of ``names``), default all."""
    if classes is None:
        return list(range(len(names)))
    labels = []
    for c in classes:
        if isinstance(c, str) and c in names:
            labels.append(names.index(c))
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < len(names):
            labels.append(int(c))
        else:
            raise ValueError('unknown class %r: give names or indices of %s'
                             % (c, _short_list(list(names))))
    return labels


def write_image_folder(dataset, root, split, per_class=None, classes=None):
    """Write a dataset's images as PNG files into ``root/split/<class_name>/NNNNN.png``.

    ``NNNNN`` is the image's index in ``dataset``; PNG is lossless, so an :class:`ImageFolder`
    of the same size reads the same pixels back. Classes without images get no folder.

    Parameters
    ----------
    dataset : CIFAR10, CIFAR100, ImageFolder
        Anything with ``.images`` (uint8), ``.labels`` and ``.class_names``.
    root, split : str
    per_class : int, optional
        Write at most the first ``per_class`` images of each class.
    classes : sequence of str or int, optional
        Write only these classes (names or labels).

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    FileExistsError
        ``root/split`` exists and is not empty.
    """
    from PIL import Image
    names = tuple(getattr(dataset, 'class_names', ()))
    if not names:
        raise TypeError('write_image_folder needs a dataset with class_names, got %s'
                        % type(dataset).__name__)
    bad = [n for n in names if not n or n.startswith('.') or '/' in n or os.sep in n]
    if bad:
        raise ValueError('class names that cannot be folder names: %r' % bad)
    if per_class is not None and (isinstance(per_class, bool) or per_class < 1):
        raise ValueError('per_class must be at least 1, got %r' % (per_class,))
    images, labels = check_uint8_images(dataset.images), np.asarray(dataset.labels)
    split_dir = os.path.join(root, split)
    if os.path.isdir(split_dir) and os.listdir(split_dir):
        raise FileExistsError('%s exists and is not empty: write into a new folder' % split_dir)
    width = max(5, len(str(len(labels) - 1)))
    written = []
    for label in _wanted_labels(classes, names):
        index = np.flatnonzero(labels == label)[:per_class]
        if len(index):
            os.makedirs(os.path.join(split_dir, names[label]), exist_ok=True)
        for i in index:
            path = os.path.join(split_dir, names[label], '%0*d.png' % (width, i))
            Image.fromarray(images[i]).save(path)
            written.append(path)
    return written
