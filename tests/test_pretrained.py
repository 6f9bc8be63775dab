"""Pretrained weights: locations, conversion, failure modes, the CIFAR-100 label guard."""
import os
import shutil

import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.convert import ConversionError, load_authors_params
from gluon_pydmn.evaluate import LabelSetMismatchError, error_rate, evaluate, predict
from gluon_pydmn.model_zoo import CoarseLabelWarning, pretrained_cfg
from gluon_pydmn.pretrained import WeightsNotFoundError, convert_release

from conftest import load_pretrained_quietly


def copy_release_files(release_root, dst, name, classes):
    for rel in pretrained_cfg(name, classes).release_files:
        os.makedirs(os.path.join(dst, os.path.dirname(rel)), exist_ok=True)
        shutil.copy(os.path.join(release_root, rel), os.path.join(dst, rel))


def test_missing_weights_name_the_files_and_the_fix(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        g.get_model('mobilenet_56_1', pretrained=True, root=str(tmp_path))
    msg = str(err.value)
    assert 'mobilenet/cifar10_mobilenet56_1-0000.params' in msg
    assert 'mobilenet_56_1-cifar10.params' in msg
    assert 'gluon-pydmn download weights' in msg and 'GLUON_PYDMN_WEIGHTS' in msg


def test_weights_root_from_environment(release_root, monkeypatch, tmp_path):
    monkeypatch.setenv('GLUON_PYDMN_WEIGHTS', str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path)):
        g.get_model('resnet_29_0.5', pretrained=True)
    monkeypatch.setenv('GLUON_PYDMN_WEIGHTS', release_root)
    assert g.get_model('resnet_29_0.5', pretrained=True).pretrained_cfg.dataset == 'cifar10'


def test_corrupt_release_file_is_named(release_root, tmp_path):
    copy_release_files(release_root, str(tmp_path), 'mobilenet_29_0.5', 10)
    params = tmp_path / pretrained_cfg('mobilenet_29_0.5', 10).release_files[1]
    params.write_bytes(params.read_bytes()[:5000])
    with pytest.raises(ConversionError, match='mobilenet29_0.5-0000.params.*SHA-1'):
        g.get_model('mobilenet_29_0.5', pretrained=True, root=str(tmp_path))


def test_truncated_params_fail_loudly_without_hash(release_root, tmp_path):
    copy_release_files(release_root, str(tmp_path), 'mobilenet_29_0.5', 10)
    sym, params = (str(tmp_path / f) for f in pretrained_cfg('mobilenet_29_0.5', 10).release_files)
    with open(params, 'rb') as f:
        data = f.read()
    with open(params, 'wb') as f:
        f.write(data[:5000])
    net = g.get_model('mobilenet_29_0.5', initialize=True)
    with pytest.raises(ConversionError, match='truncated or corrupt'):
        load_authors_params(net, sym, params)


@pytest.mark.parametrize('source, target, reason', [
    ('resnet_29_0.5', 'mobilenet_29_0.5',             # different main part
     r"'num_group': '1'.* in the checkpoint but Convolution .*'num_group': '16'"),
    ('mobilenet_29_1', 'mobilenet_29_0.5',            # same layers, other widths
     r"'num_filter': '32'.* in the checkpoint but Convolution .*'num_filter': '16'"),
    ('pydmobilenet_add_56_0.5', 'pydmobilenet_add_29_0.5',  # other depth
     'the checkpoint has 169 layers with parameters, the network 88'),
])
def test_conversion_checks_structure_and_shapes(release_root, source, target, reason):
    sym, params = (os.path.join(release_root, f) for f in pretrained_cfg(source, 10).release_files)
    with pytest.raises(ConversionError, match=reason):
        load_authors_params(g.get_model(target, initialize=True), sym, params)


def test_conversion_checks_number_of_classes(release_root):
    sym, params = (os.path.join(release_root, f) for f in pretrained_cfg('mobilenet_29_0.5', 100).release_files)
    with pytest.raises(ConversionError, match="num_hidden': '100'"):
        load_authors_params(g.get_model('mobilenet_29_0.5', classes=10, initialize=True), sym, params)


def test_pretrained_needs_10_or_100_classes():
    with pytest.raises(ValueError, match='classes=10'):
        g.get_model('mobilenet_29_0.5', classes=20, pretrained=True)


def test_converted_files_load_and_match(release_root, tmp_path, cifar10_test):
    written = convert_release(release_root, str(tmp_path), names=['pydmobilenet_concat_29_0.25'],
                              progress=False)
    assert sorted(os.path.basename(p) for p in written) == [
        'pydmobilenet_concat_29_0.25-cifar10.params', 'pydmobilenet_concat_29_0.25-cifar100.params']
    x = g.data.normalize_images(cifar10_test.images[:8])
    for classes in (10, 100):
        a = load_pretrained_quietly('pydmobilenet_concat_29_0.25', classes, str(tmp_path))
        b = load_pretrained_quietly('pydmobilenet_concat_29_0.25', classes, release_root)
        assert np.array_equal(a(x).asnumpy(), b(x).asnumpy())


def test_cifar100_weights_warn_and_refuse_fine_labels(release_root, cifar100_test):
    with pytest.warns(CoarseLabelWarning, match='20 coarse superclasses'):
        net = g.get_model('mobilenet_29_0.5', classes=100, pretrained=True, root=release_root)
    cfg = net.pretrained_cfg
    assert (cfg.label_set, cfg.num_outputs, cfg.num_labels) == ('cifar100-coarse', 100, 20)
    with pytest.raises(LabelSetMismatchError, match='coarse'):
        evaluate(net, cifar100_test['fine'], progress=False)


def test_cifar100_weights_predict_coarse_labels(release_root, cifar100_test):
    """The finding, on 2,000 real test images: predictions stay in 0-19, coarse labels are
    learned, fine labels are at chance."""
    net = load_pretrained_quietly('mobilenet_29_0.5', 100, release_root)
    net.hybridize(static_alloc=True, static_shape=True)
    fine, coarse = cifar100_test['fine'], cifar100_test['coarse']
    logits = predict(net, coarse.images[:2000])
    assert logits.argmax(axis=1).max() < 20
    assert error_rate(logits, coarse.labels[:2000]) < 30
    assert error_rate(logits, fine.labels[:2000]) > 90
    forced = evaluate(net, fine.subset(2000), progress=False, allow_label_mismatch=True)
    assert forced == pytest.approx(error_rate(logits, fine.labels[:2000]))


def test_cifar10_weights_refuse_cifar100(release_root, cifar100_test):
    net = g.get_model('mobilenet_29_0.5', classes=10, pretrained=True, root=release_root)
    with pytest.raises(LabelSetMismatchError):
        evaluate(net, cifar100_test['coarse'], progress=False)
