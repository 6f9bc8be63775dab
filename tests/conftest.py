"""Shared fixtures: real CIFAR data and the authors' release, located through the environment.

The Makefile sets $GLUON_PYDMN_DATA and $GLUON_PYDMN_WEIGHTS (``make test``). A test that
needs them fails, never skips, when they are missing.
"""
import os
import warnings

import pytest

from gluon_pydmn import configure_cpu
from gluon_pydmn import data as data_mod
from gluon_pydmn.model_zoo import CoarseLabelWarning, get_model, pretrained_cfg
from gluon_pydmn.pretrained import default_weights_root


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long tests, run by `make test-slow`')
    configure_cpu(training=False)  # all cores, before MXNet runs its first operator


@pytest.fixture(scope='session')
def data_root():
    root = data_mod.default_data_root()
    for folder in ('cifar-10-batches-bin', 'cifar-100-binary'):
        if not os.path.isdir(os.path.join(root, folder)):
            pytest.fail('CIFAR binary folders missing in %s: run `make data` (or set $%s)'
                        % (root, data_mod.ENV_DATA))
    return root


@pytest.fixture(scope='session')
def release_root():
    root = default_weights_root()
    probe = pretrained_cfg('mobilenet_29_0.5', 10).release_files[0]
    if not os.path.isfile(os.path.join(root, probe)):
        pytest.fail('the authors\' release is not in %s: set $GLUON_PYDMN_WEIGHTS to it '
                    '(make test does) or run `make weights`' % root)
    return root


@pytest.fixture(scope='session')
def cifar10_test(data_root):
    return data_mod.CIFAR10(data_root, train=False)


@pytest.fixture(scope='session')
def cifar100_test(data_root):
    return {mode: data_mod.CIFAR100(data_root, train=False, label_mode=mode)
            for mode in ('fine', 'coarse')}


def load_pretrained_quietly(name, classes, root, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', CoarseLabelWarning)
        return get_model(name, classes=classes, pretrained=True, root=root, **kwargs)


def reset_input_batchnorm(params_path):
    """Rewrite the weights at ``params_path`` with the input BatchNorm's running statistics at
    their initial values (mean 0, variance 1), as the training loop left them before its fix."""
    import mxnet as mx
    weights = mx.nd.load(str(params_path))
    weights['features.0.running_mean'][:] = 0
    weights['features.0.running_var'][:] = 1
    mx.nd.save(str(params_path), weights)
