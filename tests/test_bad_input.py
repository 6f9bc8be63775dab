"""Bad input to networks, evaluation and checkpoints gets a clear error instead of a wrong number."""
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon.data.vision import transforms

import gluon_pydmn as g
from gluon_pydmn.errors import CheckpointError
from gluon_pydmn.evaluate import evaluate, predict


@pytest.fixture(scope='module')
def net():
    mx.random.seed(0)
    net = g.get_cifar_net('mobilenet', 11, 0.25, initialize=True)
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


@pytest.mark.parametrize('classes', [0, -3, 2.5, True])
def test_bad_number_of_classes_is_refused_when_the_network_is_built(classes):
    with pytest.raises(ValueError, match='classes .* must be a whole number of at least 1'):
        g.get_model('mobilenet_29_0.5', classes=classes)


def test_ctx_must_be_a_context():
    with pytest.raises(TypeError, match=r"ctx must be an MXNet context such as mx\.cpu\(\).*'cpu'"):
        g.get_model('mobilenet_29_0.5', ctx='cpu')


@pytest.fixture(scope='module')
def deployed(net):
    return g.deploy(net)


@pytest.mark.parametrize('which', ['network', 'deployed'])
@pytest.mark.parametrize('x, error, match', [
    (mx.nd.zeros((2, 3, 32, 32), dtype='float64'), TypeError, 'expects float32 images normalised'),
    (mx.nd.zeros((2, 3, 32, 32), dtype='uint8'), TypeError, 'got uint8'),
    (mx.nd.array(np.zeros((0, 3, 32, 32), np.float32)), ValueError, r'empty batch \(0 images\)'),
    (mx.nd.zeros((2, 1, 32, 32)), ValueError, r'RGB images shaped \(N, 3, H, W\).*\(2, 1, 32, 32\)'),
    (mx.nd.zeros((3, 32, 32)), ValueError, r'RGB images shaped \(N, 3, H, W\).*\(3, 32, 32\)'),
])
def test_bad_input_is_refused_by_the_network_and_its_deploy_form(net, deployed, which, x, error,
                                                                  match):
    with pytest.raises(error, match=match):
        (net if which == 'network' else deployed)(x)


def test_exported_deploy_graph_does_not_broadcast_grey_to_rgb(deployed):
    symbol = deployed(mx.sym.var('data'))
    assert symbol.infer_shape(data=(2, 3, 32, 32))[1] == [(2, 10)]
    for shape in ((2, 1, 32, 32), (3, 32, 32)):
        with pytest.raises(mx.base.MXNetError):
            symbol.infer_shape(data=shape)


def test_deploy_refuses_deployed_and_uninitialised_networks(deployed):
    with pytest.raises(TypeError, match='already deployed'):
        g.deploy(deployed)
    with pytest.raises(ValueError, match='needs a network with initialised parameters'):
        g.deploy(g.get_cifar_net('mobilenet', 11, 0.25, initialize=False))


@pytest.mark.parametrize('batch_size', [0, -1])
def test_predict_and_evaluate_refuse_batch_sizes_below_one(net, data_root, batch_size):
    test = g.CIFAR10(data_root, train=False).subset(10)
    with pytest.raises(ValueError, match='batch_size must be at least 1, got %d' % batch_size):
        predict(net, test.images, batch_size=batch_size)
    with pytest.raises(ValueError, match='batch_size must be at least 1'):
        evaluate(net, test, batch_size=batch_size, progress=False)


@pytest.fixture(scope='module')
def good_checkpoint(tmp_path_factory, net):
    path = str(tmp_path_factory.mktemp('ckpt') / 'net.params')
    net.save_parameters(path)
    return path


@pytest.mark.parametrize('damage, reason', [
    ('empty', 'the file is empty'),
    ('truncated', 'the file is truncated or damaged'),
    ('text', 'it is not an MXNet parameter file'),
])
def test_damaged_checkpoint_names_the_real_cause(good_checkpoint, tmp_path, damage, reason):
    data = open(good_checkpoint, 'rb').read()
    path = tmp_path / 'bad.params'
    path.write_bytes({'empty': b'', 'truncated': data[:len(data) // 2],
                      'text': b'{"not": "weights"}'}[damage])
    with pytest.raises(CheckpointError, match='cannot load .*bad.params: %s' % reason):
        g.get_model('mobilenet_29_0.5', checkpoint_path=str(path))


def test_checkpoint_of_another_shape_names_the_parameter(good_checkpoint):
    with pytest.raises(CheckpointError) as info:
        g.get_model('mobilenet_29_0.5', checkpoint_path=good_checkpoint)
    message = str(info.value)
    assert 'as mobilenet_29_0.5 with 10 outputs' in message and 'Traceback' not in message
    assert "Parameter 'features.2.1.body.0.gamma' is missing" in message


def test_authors_release_file_as_checkpoint_suggests_pretrained(release_root):
    from gluon_pydmn.pretrained import pretrained_cfg
    params = [f for f in pretrained_cfg('mobilenet_29_0.5', 10).release_files
              if f.endswith('.params')][0]
    with pytest.raises(CheckpointError, match=r"authors' release .*pretrained=True"):
        g.get_model('mobilenet_29_0.5', checkpoint_path=os.path.join(release_root, params))


@pytest.mark.parametrize('module, name, builtin', [
    ('gluon_pydmn.data', 'DataNotFoundError', FileNotFoundError),
    ('gluon_pydmn.pretrained', 'WeightsNotFoundError', FileNotFoundError),
    ('gluon_pydmn.convert', 'ConversionError', ValueError),
    ('gluon_pydmn.reproduce.paper', 'PaperTablesNotFoundError', FileNotFoundError),
    ('gluon_pydmn.devices', 'NoGpuError', RuntimeError)])
def test_the_packages_errors_live_in_errors_py(module, name, builtin):
    """Each is one class, importable from errors.py and from the module that raises it, and
    both a UserError (scripts print it as one line) and the built-in error it refines."""
    import importlib

    from gluon_pydmn import errors
    error = getattr(errors, name)
    assert name in errors.__all__ and getattr(importlib.import_module(module), name) is error
    assert issubclass(error, errors.UserError) and issubclass(error, builtin)
    assert error.__doc__ and '\n' not in error.__doc__.strip()  # one line


def test_raw_pixels_given_to_the_network_are_refused(data_root):
    """A network refuses them until it has passed one batch (the next test says why)."""
    mx.random.seed(0)
    net = g.get_cifar_net('pydmobilenet_concat', 29, 0.25, initialize=True)
    raw = g.CIFAR10(data_root, train=False).images[:4].transpose(0, 3, 1, 2).astype(np.float32)
    with pytest.raises(ValueError, match='look like raw 0-255 pixels.*normalize_images'):
        net(mx.nd.array(raw))
    deployed = g.deploy(net)
    with pytest.raises(ValueError, match='raw 0-255 pixels'):
        deployed(mx.nd.array(raw))
    assert net(g.data.normalize_images(raw.transpose(0, 2, 3, 1).astype(np.uint8))).shape == (4, 10)


def test_the_raw_pixel_check_looks_at_values_until_one_batch_passes(monkeypatch):
    """The look at the values synchronises; a network in steady use (timing, serving) must
    not pay for it on every call."""
    looks = []
    real = mx.nd.NDArray.asscalar
    monkeypatch.setattr(mx.nd.NDArray, 'asscalar', lambda self: looks.append(1) or real(self))
    mx.random.seed(0)
    fresh = g.get_cifar_net('mobilenet', 11, 0.25, initialize=True)
    x = mx.nd.random.normal(shape=(2, 3, 32, 32))
    with pytest.raises(ValueError, match='raw 0-255 pixels'):
        fresh(x * 255)
    for _ in range(4):
        fresh(x).wait_to_read()
    assert len(looks) == 2  # the refused batch and the first good one


def test_another_image_size_runs_with_one_warning_per_size():
    mx.random.seed(0)
    fresh = g.get_cifar_net('mobilenet', 11, 0.25, initialize=True)
    for shape in ((1, 3, 64, 48), (1, 3, 16, 16)):
        with pytest.warns(UserWarning, match=r'built for 32x32 CIFAR images and got %dx%d'
                                             % shape[2:]):
            assert fresh(mx.nd.zeros(shape)).shape == (1, 10)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        fresh(mx.nd.zeros((1, 3, 16, 16)))  # warned once for this size
        fresh(mx.nd.zeros((1, 3, 32, 32)))
