"""recompute_batchnorm ("precise BN") on real training images, and its option in
gluon-pydmn evaluate."""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

import gluon_pydmn as g
from gluon_pydmn.data import normalize_images, random_crop_flip
from gluon_pydmn.evaluate import predict, recompute_batchnorm

MODEL = 'pydmobilenet_concat_29_0.25'


@pytest.fixture(scope='module')
def train_images(data_root):
    return g.CIFAR10(data_root, train=True).images[:256]


def _batchnorms(net):
    layers = []
    net.apply(lambda block: layers.append(block) if isinstance(block, nn.BatchNorm) else None)
    return layers


def _statistics(net):
    return [(b.running_mean.data().asnumpy(), b.running_var.data().asnumpy())
            for b in _batchnorms(net)]


def test_the_input_batchnorm_gets_the_mean_of_its_batch_statistics(train_images):
    net = g.get_model(MODEL, initialize=True)
    layers = _batchnorms(net)
    assert recompute_batchnorm(net, train_images, batch_size=64, seed=3) == len(layers) == 39
    rng = np.random.RandomState(3)  # the same augmentation, batch by batch
    batches = [normalize_images(random_crop_flip(train_images[s:s + 64], rng)).asnumpy()
               for s in range(0, 256, 64)]
    mean = np.mean([b.mean(axis=(0, 2, 3)) for b in batches], axis=0)
    var = np.mean([b.var(axis=(0, 2, 3)) for b in batches], axis=0)
    stem = net.features[0]
    np.testing.assert_allclose(stem.running_mean.data().asnumpy(), mean, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(stem.running_var.data().asnumpy(), var, rtol=1e-3)
    assert mean.max() < -0.2 and var.min() > 1.5  # zero padding: not the 0 and 1 of no augmentation
    for running_mean, running_var in _statistics(net):  # every layer left its initial 0 and 1
        assert np.abs(running_mean).max() > 0 and not np.allclose(running_var, 1)


def test_hybridized_networks_get_the_statistics_of_imperative_ones(train_images, tmp_path):
    """A static_alloc graph writes the statistics in its backward pass behind the engine's
    back; reading them without waiting gave hybridized networks other statistics."""
    imperative = g.get_model(MODEL, initialize=True)
    path = str(tmp_path / 'init.params')
    imperative.save_parameters(path)
    hybridized = g.get_model(MODEL, checkpoint_path=path)
    hybridized.hybridize(static_alloc=True, static_shape=True)
    predict(hybridized, train_images[:8])  # the inference graph exists before, as in evaluate.py
    for net in (imperative, hybridized):
        recompute_batchnorm(net, train_images, batch_size=32)
    for (m1, v1), (m2, v2) in zip(_statistics(imperative), _statistics(hybridized)):
        np.testing.assert_allclose(m2, m1, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(v2, v1, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('net, images, batch_size, message', [
    ('zoo', 256, 1, 'batch_size must be at least 2'),
    ('zoo', 100, 128, 'need at least one batch of 128 images, got 100'),
    ('dense', 256, 128, 'Dense has no BatchNorm layer'),
    ('frozen', 256, 128, 'use_global_stats=True never update'),
])
def test_bad_input_is_refused(net, images, batch_size, message, train_images):
    if net == 'zoo':
        net = g.get_model(MODEL, initialize=True)
    elif net == 'dense':
        net = nn.Dense(10)
    else:
        net = nn.HybridSequential()
        net.add(nn.BatchNorm(use_global_stats=True))
    with pytest.raises(ValueError, match=message):
        recompute_batchnorm(net, train_images[:images], batch_size=batch_size)
