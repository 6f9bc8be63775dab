"""Bad input to evaluation and prediction gets a clear error instead of a wrong number."""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon.data.vision import transforms

import gluon_pydmn as g
from gluon_pydmn.evaluate import evaluate, predict


@pytest.fixture(scope='module')
def net():
    mx.random.seed(0)
    net = g.get_cifar_net('mobilenet', 11, 0.25)
    net.hybridize()
    return net


def test_evaluate_refuses_a_dataset_transform_it_would_ignore(net, data_root):
    test = g.CIFAR10(data_root, train=False, transform=lambda x, y: (x, y))
    with pytest.raises(ValueError, match=r"would ignore this dataset's transform=.*without transform="):
        evaluate(net, test, progress=False)


def test_evaluate_refuses_other_datasets_naming_the_alternative(net, data_root):
    lazy = g.CIFAR10(data_root, train=False).transform_first(transforms.ToTensor())
    with pytest.raises(TypeError, match='takes a CIFAR10 or CIFAR100 dataset .* got '
                                        '_LazyTransformDataset.*error_rate'):
        evaluate(net, lazy, progress=False)


def test_evaluate_refuses_labels_beyond_the_outputs(net, data_root):
    fine = g.CIFAR100(data_root, train=False, label_mode='fine').subset(500)
    with pytest.raises(ValueError, match=r'labels 0\.\.99 cannot be scored against 10 outputs'):
        evaluate(net, fine, progress=False)


@pytest.mark.parametrize('images', [np.zeros((2, 32, 32, 3), np.float32),
                                    np.zeros((2, 3, 32, 32), np.uint8),
                                    np.zeros((32, 32, 3), np.uint8)])
def test_predict_takes_only_raw_uint8_images(net, images):
    with pytest.raises(TypeError, match=r'expected raw images as \(N, H, W, 3\) uint8.*'
                                        r'net\(mx\.nd\.array\(x\)\)'):
        predict(net, images)
