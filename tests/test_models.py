"""Every zoo model: shapes, parameter counts, initialisation, parity with the authors' graphs."""
import os

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.convert import param_layers
from gluon_pydmn.model_zoo import MODEL_CFGS
from gluon_pydmn.pretrained import authors_graph, pretrained_cfg
from gluon_pydmn.reproduce.paper import load_paper_tables

from conftest import load_pretrained_quietly

ZOO = g.get_model_list()


def test_zoo_is_table3():
    assert len(ZOO) == 22 and len(set(ZOO)) == 22
    assert 'pydmobilenet_concat_56_0.75' in ZOO and 'resnet_56_0.5' in ZOO
    assert sorted({MODEL_CFGS[n].family for n in ZOO}) == [
        'mobilenet', 'pydmobilenet_add', 'pydmobilenet_concat', 'resnet']


@pytest.mark.parametrize('classes', [10, 100])
@pytest.mark.parametrize('name', ZOO)
def test_output_shape(name, classes):
    net = g.get_model(name, classes=classes, initialize=True)
    assert net.model_name == name
    x = mx.nd.random.uniform(shape=(2, 3, 32, 32))
    y = net(x)
    assert y.shape == (2, classes)
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), y.asnumpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', ZOO)
def test_param_count_equals_authors_checkpoint(name, release_root):
    """Trainable parameters equal the authors' checkpoint's: all its ``arg:`` tensors but the
    stem BN's gamma and beta, which BatchNorm(scale=False, center=False) keeps fixed."""
    sym_file, params_file = (os.path.join(release_root, f)
                             for f in pretrained_cfg(name, 10).release_files)
    arrays = mx.nd.load(params_file)
    with open(sym_file) as f:
        stem_bn = param_layers(f.read())[0]
    assert stem_bn[0] == 'BatchNorm' and stem_bn[2]['fix_gamma'] == 'True'
    gamma, beta = ('arg:' + p for p in stem_bn[3][:2])
    assert np.all(arrays[beta].asnumpy() == 0)  # never trained: center=False
    trainable = sum(v.size for k, v in arrays.items() if k.startswith('arg:') and k not in (gamma, beta))
    assert g.count_params(g.get_model(name)) == trainable


def test_param_counts_match_paper():
    """The paper prints #params in millions, rounded for some rows and truncated for others."""
    paper = {row['model']: row for row in load_paper_tables()['table3']}
    for name in ZOO:
        n = g.count_params(g.get_model(name))
        assert paper[MODEL_CFGS[name].paper_name]['params_millions'] in (
            round(n / 1e6, 3), int(n / 1e3) / 1e3), name


@pytest.mark.parametrize('classes', [10, 100])
@pytest.mark.parametrize('name', ZOO)
def test_logit_parity_with_authors_graph(name, classes, release_root, cifar10_test):
    """Converted weights give the authors' logits on real CIFAR images (max |diff| <= 1e-4)."""
    theirs = authors_graph(name, release_root, classes=classes)
    ours = load_pretrained_quietly(name, classes, release_root)
    x = g.data.normalize_images(cifar10_test.images[:32])
    expected = theirs(x).asnumpy()
    assert np.abs(ours(x).asnumpy() - expected).max() <= 1e-4
    ours.hybridize(static_alloc=True)
    assert np.abs(ours(x).asnumpy() - expected).max() <= 1e-4


def test_flops_equal_on_authors_graphs(release_root):
    for name in ZOO:
        theirs = authors_graph(name, release_root)
        assert g.count_flops(g.get_model(name)) == g.count_flops(theirs), name


def test_xavier_initialisation():
    net = g.get_model('mobilenet_29_0.5', initialize=True)
    w = net.output.weight.data().asnumpy()  # Dense 10 x 128: Xavier uniform, avg, magnitude 3
    bound = np.sqrt(3.0 / ((128 + 10) / 2.0))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(net.output.bias.data().asnumpy() == 0)


def test_generic_constructor_other_depth_and_width():
    net = g.get_cifar_net('pydmobilenet_concat', depth=20, multiplier=0.3, classes=7,
                          kernel_sizes=(3, 5), initialize=True)
    assert net(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 7)
    # depth 20: 2 blocks per stage; 0.3 * 32 = 9 inner channels, 2 branches -> 18 into the last BN
    stage1 = net.stages()[0]
    assert len(stage1) == 2 and len(net.blocks()) == 6
    assert stage1[0].bn_main.gamma.shape == (18,)


def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        g.get_model('pydmobilenet_concat_56_0.8')
    for name in ZOO:
        assert name in str(err.value)


@pytest.mark.parametrize('kwargs, match', [
    (dict(family='densenet', depth=29, multiplier=1), 'unknown family'),
    (dict(family='mobilenet', depth=30, multiplier=1), '9n \\+ 2'),
    (dict(family='mobilenet', depth=29, multiplier=0.01), 'no inner channels'),
    (dict(family='pydmobilenet_add', depth=29, multiplier=1, kernel_sizes=(3, 4)), 'odd'),
])
def test_bad_architecture_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        g.get_cifar_net(**kwargs)


@pytest.mark.parametrize('shape', [(2, 1, 32, 32), (3, 32, 32), (2, 32, 32, 3)])
def test_wrong_input_shape(shape):
    net = g.get_model('mobilenet_29_0.5', initialize=True)
    for hybrid in (False, True):
        if hybrid:
            net.hybridize()
        with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
            net(mx.nd.zeros(shape))


def test_hybridized_export_roundtrip(tmp_path):
    net = g.get_model('pydmobilenet_add_29_0.25', initialize=True)
    net.hybridize()
    x = mx.nd.random.uniform(shape=(2, 3, 32, 32))
    y = net(x)
    net.export(str(tmp_path / 'm'))
    back = mx.gluon.nn.SymbolBlock.imports(str(tmp_path / 'm-symbol.json'), ['data'],
                                           str(tmp_path / 'm-0000.params'))
    np.testing.assert_allclose(back(x).asnumpy(), y.asnumpy(), rtol=1e-5, atol=1e-6)
