"""Decoded pixels and labels pinned to values computed once from the official files, and the
input normalisation checked against the paper's constants.

CIFAR-10's files here are byte-identical to the official release (the SHA-1 below is the one
``mxnet.gluon.data.vision.CIFAR10`` checks), so its values hold for any official copy. The
project's CIFAR-100 copy has the official pixels and label sequences but another order of the
images inside each class (``../shared/README.md``); its image checks are therefore
order-independent (sums and the sorted multiset of images and of (label, image) pairs),
except the per-index hash marked as this copy's.
"""
import hashlib
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_pydmn import data as D
from gluon_pydmn.reproduce.paper import load_paper_tables

CIFAR10_TEST_BATCH_SHA1 = '67eb016db431130d61cd03c7ad570b013799c88c'  # official test_batch.bin


def _sha1(array):
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()


def _channel_sums(images):
    return images.reshape(-1, 3).sum(axis=0, dtype=np.int64).tolist()


def test_cifar10_test_set_decodes_to_the_official_pixels(data_root, cifar10_test):
    with open(os.path.join(data_root, 'cifar-10-batches-bin', 'test_batch.bin'), 'rb') as f:
        assert hashlib.sha1(f.read()).hexdigest() == CIFAR10_TEST_BATCH_SHA1, \
            'test_batch.bin is not the official file'
    images, labels = cifar10_test.images, cifar10_test.labels
    assert images[0, 0, 0].tolist() == [158, 112, 49], \
        'the first test image\'s first pixel is not the official (R, G, B) = (158, 112, 49)'
    assert labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert _channel_sums(images) == [1290492328, 1266775083, 1176108223], \
        'the R, G, B sums of the decoded test images differ from the official files'
    assert _sha1(images[:500]) == 'e315d42c82c7d0d19ff866896e3c89e547663947', \
        'the first 500 decoded test images differ from the official files'
    assert _sha1(labels[:500].astype(np.uint8)) == '5232796ba9d6f53f52bff9cbacbe5e31281ece7e'


def test_cifar10_training_pixels_have_the_papers_mean(data_root):
    """The paper's normalisation mean is the training set's per-channel pixel mean; its std
    values are not the pixel std (0.2470, 0.2435, 0.2616) but the ones the authors used."""
    images = D.CIFAR10(data_root, train=True).images.reshape(-1, 3)
    counts = np.stack([np.bincount(images[:, c], minlength=256) for c in range(3)])
    values = np.arange(256) / 255.0
    mean = counts @ values / len(images)
    std = np.sqrt(counts @ values ** 2 / len(images) - mean ** 2)
    assert (counts @ np.arange(256)).tolist() == [6415714204, 6295060180, 5829907619], \
        'the R, G, B sums of the decoded training images differ from the official files'
    schema = load_paper_tables()['training_schema']
    np.testing.assert_allclose(mean, schema['normalize_mean'], atol=5e-5)
    np.testing.assert_allclose(std, [0.2470, 0.2435, 0.2616], atol=5e-5)


def test_cifar100_test_set_decodes_to_the_official_pixels_and_labels(cifar100_test):
    fine, coarse = cifar100_test['fine'], cifar100_test['coarse']
    images = fine.images
    assert _channel_sums(images) == [1328569193, 1272680636, 1153999502], \
        'the R, G, B sums of the decoded CIFAR-100 test images differ from the official files'
    digests = [hashlib.sha1(image.tobytes()).digest() for image in images]
    assert hashlib.sha1(b''.join(sorted(digests))).hexdigest() == \
        '0fe2f67ae435f168f94058c4717d004e125fb099', 'the set of CIFAR-100 test images differs'
    labelled = sorted(bytes([f, c]) + d for f, c, d in zip(fine.labels, coarse.labels, digests))
    assert hashlib.sha1(b''.join(labelled)).hexdigest() == \
        'a0386d81a0059c27be212d717b09fe9aaa83be66', \
        'the (fine label, coarse label, image) triples differ from the official files'
    assert _sha1(fine.labels.astype(np.uint8)) == '17d65fcb4f63316a4d67635b80138f3d4768b1b9'
    assert _sha1(coarse.labels.astype(np.uint8)) == '44c739300ca9d7560b3116cac579cf06679ac8c1'
    # per index: this copy's order (the official file orders the images within a class otherwise)
    assert _sha1(images[:500]) == 'b9961f3016dca18a899fe68b11995719f286901b'


def test_normalisation_constants_are_the_papers():
    schema = load_paper_tables()['training_schema']
    assert D.CIFAR_MEAN == tuple(schema['normalize_mean'])
    assert D.CIFAR_STD == tuple(schema['normalize_std']), \
        'CIFAR_STD %s is not the paper\'s %s' % (D.CIFAR_STD, schema['normalize_std'])


@pytest.mark.parametrize('transform', ['normalize_images', 'test_transform'])
def test_network_input_is_normalised_with_the_papers_constants(cifar10_test, transform):
    schema = load_paper_tables()['training_schema']
    images = cifar10_test.images[:3]
    mean = np.array(schema['normalize_mean'])[:, None, None]
    std = np.array(schema['normalize_std'])[:, None, None]
    expected = (images.transpose(0, 3, 1, 2) / 255.0 - mean) / std
    if transform == 'normalize_images':
        out = D.normalize_images(images).asnumpy()
    else:
        out = np.stack([D.test_transform()(mx.nd.array(i, dtype=np.uint8)).asnumpy()
                        for i in images])
    assert out.shape == (3, 3, 32, 32) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
