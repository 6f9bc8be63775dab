"""Your own images: ImageFolder reads root/<split>/<class>/*.png|jpg|jpeg like the CIFAR readers,
on real CIFAR-10 images written out as files; class names and normalisation of every dataset."""
import json
import os
import shutil

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

import gluon_pydmn as g
from gluon_pydmn.data import CIFAR_MEAN, CIFAR_STD, check_raw_dataset
from gluon_pydmn.errors import DataNotFoundError
from gluon_pydmn.evaluate import evaluate
from gluon_pydmn.image_folder import (ImageFolder, ImageFolderError, check_uint8_images,
                                      load_image_files, load_train_val, mean_std,
                                      write_image_folder)
from gluon_pydmn.train import TrainConfig, train

CLASSES = ('airplane', 'automobile', 'bird')
PER_CLASS = 20


@pytest.fixture(scope='module')
def cifar10_train(data_root):
    return g.CIFAR10(data_root, train=True)


@pytest.fixture(scope='module')
def folder(cifar10_train, cifar10_test, tmp_path_factory):
    """20 training and 10 test images of each of 3 CIFAR-10 classes as PNG files."""
    root = str(tmp_path_factory.mktemp('images'))
    write_image_folder(cifar10_train, root, 'train', per_class=PER_CLASS, classes=CLASSES)
    write_image_folder(cifar10_test, root, 'val', per_class=10, classes=[0, 1, 2])
    return root


@pytest.fixture
def copy(folder, tmp_path):
    """A copy of ``folder`` a test may change."""
    root = str(tmp_path / 'images')
    shutil.copytree(folder, root)
    return root


def _expected(dataset, per_class):
    """The images and labels of the first ``per_class`` images of classes 0-2, by class."""
    index = np.concatenate([np.flatnonzero(dataset.labels == c)[:per_class] for c in range(3)])
    return dataset.images[index], dataset.labels[index]


def _save(array, path, mode=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path, **kwargs) if mode else \
        Image.fromarray(array).save(path, **kwargs)


def test_png_folder_reads_back_pixel_identical(folder, cifar10_train):
    data = ImageFolder(folder, 'train', progress=False)
    images, labels = _expected(cifar10_train, PER_CLASS)
    assert data.class_names == CLASSES and data.num_classes == 3
    assert data.images.dtype == np.uint8 and data.images.shape == (60, 32, 32, 3)
    assert np.array_equal(data.images, images)
    assert data.labels.dtype == np.int32 and np.array_equal(data.labels, labels)
    assert data.conversions == {} and data.ignored == () and data.absent_classes == ()
    assert data.train and data.label_set == 'image-folder: 3 classes (airplane, automobile, bird)'
    assert os.path.basename(data.files[0]) == '%05d.png' % np.flatnonzero(
        cifar10_train.labels == 0)[0]
    assert data.mean == mean_std(images)[0] and data.std == mean_std(images)[1]
    img, label = data[21]
    assert isinstance(img, mx.nd.NDArray) and np.array_equal(img.asnumpy(), images[21])
    assert label == 1 and len(data) == 60
    assert repr(data) == 'ImageFolder(train, 60 images, 3 classes, 32x32, from %s)' % (
        os.path.join(folder, 'train'))
    check_raw_dataset(data, 'train()')  # accepted


def test_val_split_takes_the_training_classes_and_normalisation(folder, cifar10_test):
    train_set, val = load_train_val(folder, progress=False)
    images, labels = _expected(cifar10_test, 10)
    assert val.class_names == train_set.class_names and not val.train
    assert (val.mean, val.std) == (train_set.mean, train_set.std) != mean_std(val.images)
    assert np.array_equal(val.images, images) and np.array_equal(val.labels, labels)
    own = ImageFolder(folder, 'val', progress=False)  # without mean=: its own images'
    assert (own.mean, own.std) == mean_std(images)


def test_val_split_may_lack_a_training_class(copy):
    shutil.rmtree(os.path.join(copy, 'val', 'bird'))
    val = ImageFolder(copy, 'val', classes=CLASSES, progress=False)
    assert val.num_classes == 3 and val.absent_classes == ('bird',)
    assert sorted(set(val.labels)) == [0, 1] and 'no folder for 1 classes: bird' in val.summary()


def test_val_class_unknown_to_training_is_refused(copy):
    os.rename(os.path.join(copy, 'val', 'bird'), os.path.join(copy, 'val', 'cat'))
    with pytest.raises(ImageFolderError, match=r"val has class folders that are not among the 3 "
                                               r"classes given \(airplane, automobile, bird\): "
                                               r"cat; their images would have no label"):
        ImageFolder(copy, 'val', classes=CLASSES, progress=False)


def test_subset_spreads_over_the_classes(folder):
    data = ImageFolder(folder, 'train', progress=False)
    small = data.subset(6)
    assert list(small.labels) == [0, 0, 1, 1, 2, 2]
    assert np.array_equal(small.images, data.images[[0, 10, 20, 30, 40, 50]])
    assert small.files == tuple(data.files[i] for i in (0, 10, 20, 30, 40, 50))
    assert (small.mean, small.class_names) == (data.mean, data.class_names)
    with pytest.raises(ValueError, match='subset size must be between 1 and 60'):
        data.subset(61)


@pytest.mark.parametrize('label_set, folder_name, names_file', [
    ('cifar10', 'cifar-10-batches-bin', 'batches.meta.txt'),
    ('cifar100-fine', 'cifar-100-binary', 'fine_label_names.txt'),
    ('cifar100-coarse', 'cifar-100-binary', 'coarse_label_names.txt')])
def test_cifar_datasets_name_their_classes_as_their_own_files(label_set, folder_name, names_file,
                                                              data_root, cifar10_test,
                                                              cifar100_test):
    with open(os.path.join(data_root, folder_name, names_file)) as f:
        official = tuple(line.strip() for line in f if line.strip())
    dataset = cifar10_test if label_set == 'cifar10' else cifar100_test[label_set.split('-')[1]]
    assert dataset.class_names == official and len(official) == dataset.num_classes
    assert (dataset.mean, dataset.std) == (CIFAR_MEAN, CIFAR_STD)
    assert dataset.subset(5).class_names == official


def test_mean_std_of_cifar10_training_images(cifar10_train):
    """The mean is CIFAR_MEAN; CIFAR_STD (the commonly used values) is not the pixels' std."""
    mean, std = mean_std(cifar10_train.images)
    assert np.abs(np.subtract(mean, CIFAR_MEAN)).max() < 0.001
    assert np.abs(np.subtract(std, (0.2470, 0.2435, 0.2616))).max() < 0.001
    assert np.min(np.subtract(std, CIFAR_STD)) > 0.04
    pixels = cifar10_train.images[:500].reshape(-1, 3) / 255.0
    assert np.allclose(mean_std(cifar10_train.images[:500], chunk=7),
                       (pixels.mean(axis=0), pixels.std(axis=0)), atol=1e-12)


def test_jpeg_and_other_sizes_are_resized_and_counted(copy, cifar10_train):
    images, _ = _expected(cifar10_train, PER_CLASS)
    one = images[0]
    bird = os.path.join(copy, 'train', 'bird')
    _save(one, os.path.join(bird, 'same_size.jpg'), quality=95)
    _save(np.repeat(np.repeat(one, 2, axis=0), 2, axis=1), os.path.join(bird, 'double.png'))
    wide = np.zeros((32, 48, 3), np.uint8)
    wide[:, 8:40] = one
    _save(wide, os.path.join(bird, 'wide.JPEG'), quality=100, subsampling=0)
    _save(one[::2, ::2], os.path.join(bird, 'small.png'))
    data = ImageFolder(copy, 'train', progress=False)
    assert data.images.shape == (64, 32, 32, 3)
    assert data.conversions == {'cropped': 1, 'resized': 3}
    assert '3 resized to 32x32; 1 centre-cropped (not square)' in data.summary()
    read = {os.path.basename(f): img.astype(int) for f, img in zip(data.files, data.images)}
    assert np.abs(read['same_size.jpg'] - one).mean() < 3  # JPEG: close, not identical
    assert np.abs(read['double.png'] - one).mean() < 5  # 2x: antialiased bilinear, a blur
    assert np.abs(read['wide.JPEG'] - one).mean() < 3  # the centre kept, the black sides cut
    assert np.abs(read['small.png'] - one).mean() < 40  # upsampled: blurred but the image


def test_grey_rgba_palette_and_16_bit_are_converted_to_rgb_and_counted(copy, cifar10_train):
    one = _expected(cifar10_train, PER_CLASS)[0][0]
    grey = (one.astype(int).sum(axis=2) // 3).astype(np.uint8)
    rgba = np.concatenate([one, np.arange(32 * 32).reshape(32, 32, 1).astype(np.uint8)], axis=2)
    cat = os.path.join(copy, 'train', 'airplane')
    _save(grey, os.path.join(cat, 'grey.png'))
    _save(rgba, os.path.join(cat, 'rgba.png'))
    Image.fromarray(one).convert('P').save(os.path.join(cat, 'palette.png'))
    _save(grey.astype(np.uint16) * 257, os.path.join(cat, 'deep.png'))
    data = ImageFolder(copy, 'train', progress=False)
    assert data.conversions == {'16-bit grey': 1, 'RGBA': 1, 'grey': 1, 'palette': 1}
    assert 'converted to RGB: 1 16-bit grey, 1 RGBA, 1 grey, 1 palette' in data.summary()
    read = {os.path.basename(f): img for f, img in zip(data.files, data.images)}
    for name in ('grey.png', 'deep.png'):
        assert np.array_equal(read[name], np.repeat(grey[..., None], 3, axis=2)), name
    assert np.array_equal(read['rgba.png'], one)  # alpha dropped, colours kept
    assert read['palette.png'].shape == (32, 32, 3)
    assert (data.labels == 0).sum() == PER_CLASS + 4


def test_exif_orientation_is_applied_and_counted(copy, cifar10_train):
    one = _expected(cifar10_train, PER_CLASS)[0][0]
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down: shown rotated by 180 degrees
    Image.fromarray(np.ascontiguousarray(one[::-1, ::-1])).save(
        os.path.join(copy, 'train', 'bird', 'turned.png'), exif=exif)
    data = ImageFolder(copy, 'train', progress=False)
    assert data.conversions == {'rotated': 1} and '1 rotated by their EXIF' in data.summary()
    assert np.array_equal(data.images[data.files.index(
        os.path.join(copy, 'train', 'bird', 'turned.png'))], one)


def test_other_files_are_ignored_counted_and_announced(copy):
    with open(os.path.join(copy, 'train', 'bird', 'notes.txt'), 'w') as f:
        f.write('not an image')
    open(os.path.join(copy, 'train', 'bird', '.DS_Store'), 'w').close()
    open(os.path.join(copy, 'train', 'README.md'), 'w').close()
    os.makedirs(os.path.join(copy, 'train', '.ipynb_checkpoints'))
    with pytest.warns(UserWarning, match=r'ignored 4 entries that are not \.png/\.jpg/\.jpeg'):
        data = ImageFolder(copy, 'train', progress=False)
    assert sorted(data.ignored) == ['.ipynb_checkpoints/', 'README.md', 'bird/.DS_Store',
                                    'bird/notes.txt']
    assert len(data) == 60 and '4 other entries ignored' in data.summary()


def test_missing_root_and_missing_split_name_the_layout(copy, tmp_path):
    with pytest.raises(DataNotFoundError, match=r'nowhere does not exist .*expected the layout '
                                                r'<root>/<split>/<class>/<image>\.png'):
        ImageFolder(str(tmp_path / 'nowhere'), progress=False)
    with pytest.raises(DataNotFoundError, match=r"has no 'test' split folder \(its folders: train, "
                                                r"val\); expected the layout"):
        ImageFolder(copy, 'test', progress=False)


def test_split_without_class_folders_is_refused(tmp_path, cifar10_test):
    _save(cifar10_test.images[0], str(tmp_path / 'train' / 'a.png'))
    with pytest.raises(ImageFolderError, match=r'holds no class folders \(its 1 images lie '
                                               r'directly in it: move them into one folder per'):
        ImageFolder(str(tmp_path), progress=False)


def test_class_folder_without_images_is_named(copy):
    os.makedirs(os.path.join(copy, 'train', 'cat'))
    os.makedirs(os.path.join(copy, 'train', 'dog'))
    open(os.path.join(copy, 'train', 'dog', 'list.txt'), 'w').close()
    with pytest.raises(ImageFolderError, match=r'class folders without any \.png/\.jpg/\.jpeg '
                                               r'image: cat/ \(empty\), dog/ \(1 other files\)'):
        ImageFolder(copy, 'train', progress=False)


def test_every_corrupt_file_is_named_and_nothing_is_skipped(copy):
    bird = os.path.join(copy, 'train', 'bird')
    with open(os.path.join(bird, 'text.jpg'), 'w') as f:
        f.write('not a jpeg')
    first = sorted(os.listdir(bird))[0]
    with open(os.path.join(bird, first), 'rb') as f:
        head = f.read(100)
    with open(os.path.join(bird, 'truncated.png'), 'wb') as f:
        f.write(head)
    with pytest.raises(ImageFolderError) as caught:
        ImageFolder(copy, 'train', progress=False)
    message = str(caught.value)
    assert message.startswith('2 of 62 files cannot be decoded; delete or replace them')
    assert 'cannot decode %s as an image' % os.path.join(bird, 'text.jpg') in message
    assert 'cannot decode %s as an image' % os.path.join(bird, 'truncated.png') in message


def test_load_image_files_decodes_with_the_same_rules(folder, tmp_path, cifar10_train):
    data = ImageFolder(folder, 'train', progress=False)
    images = load_image_files(data.files[:5])
    assert images.dtype == np.uint8 and np.array_equal(images, data.images[:5])
    _save(data.images[0][:, :, 0], str(tmp_path / 'grey.png'))
    both, conversions = load_image_files([data.files[0], str(tmp_path / 'grey.png')], size=16,
                                         return_conversions=True)
    assert both.shape == (2, 16, 16, 3) and conversions == {'grey': 1, 'resized': 2}
    (tmp_path / 'bad.png').write_text('nope')
    with pytest.raises(ImageFolderError, match=r'(?s)1 of 2 files cannot be decoded.*bad\.png'):
        load_image_files([data.files[0], str(tmp_path / 'bad.png')])
    with pytest.raises(ImageFolderError, match=r'missing\.png as an image \(FileNotFoundError'):
        load_image_files(str(tmp_path / 'missing.png'))


@pytest.mark.parametrize('array, message', [
    (np.zeros((2, 32, 32, 3), np.float32), r'uint8 pixels 0-255 .*got dtype float32: images '
                                           r'scaled to 0-1'),
    (np.zeros((2, 3, 32, 32), np.uint8), r'\(N, H, W, 3\) uint8 .*got shape \(2, 3, 32, 32\)'),
    (np.zeros((0, 32, 32, 3), np.uint8), r'N >= 1'),
    (np.zeros((2, 16, 16, 3), np.uint8), r'expected 32x32 images, got 16x16')])
def test_check_uint8_images_refuses_anything_else(array, message):
    with pytest.raises(ValueError, match=message):
        check_uint8_images(array, size=32)


def test_bad_arguments_are_refused(folder):
    with pytest.raises(ValueError, match='size must be a whole number'):
        ImageFolder(folder, size=0, progress=False)
    with pytest.raises(ValueError, match='give both mean= and std='):
        ImageFolder(folder, mean=(0.5, 0.5, 0.5), progress=False)
    with pytest.raises(ValueError, match='classes must be distinct'):
        ImageFolder(folder, classes=('airplane', 'airplane'), progress=False)
    data = ImageFolder(folder, progress=False)
    with pytest.raises(FileExistsError, match='exists and is not empty'):
        write_image_folder(data, folder, 'train')
    with pytest.raises(ValueError, match="unknown class 'cat'"):
        write_image_folder(data, folder, 'other', classes=['cat'])


def test_check_raw_dataset_names_image_folder_and_still_refuses_others(folder, cifar10_test):
    lazy = cifar10_test.transform_first(lambda x: x)
    with pytest.raises(TypeError, match=r'takes a CIFAR10 or CIFAR100 dataset of gluon_pydmn.data'
                                        r' or an ImageFolder of gluon_pydmn.image_folder .*got '
                                        r'_LazyTransformDataset'):
        check_raw_dataset(lazy, 'evaluate()')
    data = ImageFolder(folder, progress=False)
    data._transform = lambda x, y: (x, y)
    with pytest.raises(ValueError, match="would ignore this dataset's transform="):
        check_raw_dataset(data, 'train()')


def test_train_and_evaluate_take_an_image_folder(folder, tmp_path):
    train_set, val = load_train_val(folder, progress=False)
    mx.random.seed(0)
    net = g.get_cifar_net('mobilenet', 11, 0.25, classes=train_set.num_classes)
    net.initialize(mx.init.Xavier(), force_reinit=True)
    config = TrainConfig(epochs=1, batch_size=32, learning_rate=0.01, lr_decay_epochs=(),
                         mixup_off_last_epochs=0)
    history = train(net, train_set, val, str(tmp_path / 'run'), config, progress=False,
                    log=lambda message: None)
    assert len(history) == 1 and np.isfinite(history[0]['train_loss'])
    with open(tmp_path / 'run' / 'run.json') as f:
        record = json.load(f)
    assert (record['label_set'], record['train_images'], record['test_images']) == (
        train_set.label_set, 60, 30)
    error = evaluate(net, val, progress=False)
    assert error == history[0]['test_error'] and 0 <= error <= 100


def test_a_truncated_file_is_refused_also_after_gluoncv_loosened_pillow(copy):
    """gluoncv.data sets Pillow's global LOAD_TRUNCATED_IMAGES on import."""
    import gluoncv.data  # noqa: F401
    from PIL import ImageFile
    assert ImageFile.LOAD_TRUNCATED_IMAGES
    bird = os.path.join(copy, 'train', 'bird')
    with open(os.path.join(bird, sorted(os.listdir(bird))[0]), 'rb') as f:
        head = f.read(100)
    with open(os.path.join(bird, 'truncated.png'), 'wb') as f:
        f.write(head)
    with pytest.raises(ImageFolderError, match='truncated.png as an image'):
        ImageFolder(copy, 'train', progress=False)
    assert ImageFile.LOAD_TRUNCATED_IMAGES  # left as GluonCV set it
