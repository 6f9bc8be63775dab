"""Deploy mode and export: same outputs as the trained network, for every zoo model."""
import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.deployment import deploy
from gluon_pydmn.export import OnnxModel, export_mxnet, export_onnx

from conftest import load_pretrained_quietly

ZOO = g.get_model_list()


@pytest.fixture(scope='module')
def images(cifar10_test, cifar100_test):
    return {10: g.data.normalize_images(cifar10_test.images[:128]),
            100: g.data.normalize_images(cifar100_test['fine'].images[:128])}


@pytest.mark.parametrize('classes', [10, 100])
@pytest.mark.parametrize('name', ZOO)
def test_deploy_matches_network(name, classes, release_root, images):
    net = load_pretrained_quietly(name, classes, release_root)
    x = images[classes]
    expected = net(x).asnumpy()
    deployed = deploy(net)
    assert deployed.fusion == 'MKLDNN'  # the fused graph passed its parity check
    out = deployed(x).asnumpy()
    assert np.abs(out - expected).max() <= 1e-4
    assert np.array_equal(out.argmax(axis=1), expected.argmax(axis=1))
    assert deployed.pretrained_cfg == net.pretrained_cfg
    assert not [p for p in deployed.collect_params().values() if 'running' in p.name]  # BN folded


@pytest.mark.parametrize('name', [n for n in ZOO if 'concat' in n][:1])
def test_deploy_grouped_concat_and_unfused(name, release_root, images):
    net = load_pretrained_quietly(name, 10, release_root)
    expected = net(images[10]).asnumpy()
    for kwargs in (dict(concat='grouped'), dict(fuse=False)):
        deployed = deploy(net, **kwargs)
        assert np.abs(deployed(images[10]).asnumpy() - expected).max() <= 1e-4


def _randomise_batchnorms(net, rng):
    for name, p in net.collect_params().items():
        if name.endswith(('gamma', 'running_var')):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
        elif name.endswith(('beta', 'running_mean')):
            p.set_data(mx.nd.array(rng.normal(0, 0.5, p.shape)))


@pytest.mark.parametrize('family', g.model_zoo.FAMILIES)
def test_deploy_folds_leading_batchnorms_into_the_stream(family, images):
    """Leading BNs fold into a shifted stream where they can (also across projection shortcuts
    and into the last block) and stay where they cannot; the outputs match either way, to
    float32 rounding of the logits (which the randomised BatchNorms make a few hundred)."""
    mx.random.seed(0)  # the weights must not depend on which tests ran before
    net = g.get_cifar_net(family, 29, 0.25, initialize=True)
    _randomise_batchnorms(net, np.random.RandomState(0))
    blocks = net.blocks()
    bn4, bn7 = blocks[4].pre_bn, blocks[7].pre_bn
    gamma = bn4.gamma.data().asnumpy()
    gamma[0] = -0.5  # a negative scale: relu(s * y + t) is not s * relu(y + t / s)
    bn4.gamma.set_data(mx.nd.array(gamma))
    bn7.beta.set_data(bn7.beta.data() + 100.0)  # a shift beyond MAX_STREAM_SHIFT
    x = images[10][:32]
    expected = net(x).asnumpy()
    tolerance = 1e-6 * max(1.0, np.abs(expected).max())
    for fuse in (True, False):
        deployed = deploy(net, fuse=fuse)
        kept = [i for i, block in enumerate(deployed.blocks) if block.pre_bn is not None]
        assert kept == [0, 4, 7]
        assert np.abs(deployed(x).asnumpy() - expected).max() <= tolerance
    assert deployed.fusion == 'none' and deploy(net).fusion == 'MKLDNN'


def test_deploy_rejects_unknown_concat_mode(release_root):
    with pytest.raises(ValueError, match='grouped'):
        deploy(g.get_model('mobilenet_29_0.5', initialize=True), concat='stacked')


@pytest.mark.parametrize('name', ZOO)
def test_onnx_export_matches(name, release_root, images, tmp_path):
    net = load_pretrained_quietly(name, 10, release_root)
    x = images[10]
    expected = net(x).asnumpy()
    path = export_onnx(deploy(net), str(tmp_path / (name + '.onnx')))
    onnx_model = OnnxModel(path)
    assert np.abs(onnx_model(x) - expected).max() <= 1e-4
    assert np.abs(onnx_model(x[:1]) - expected[:1]).max() <= 1e-4  # dynamic batch


@pytest.mark.parametrize('name', ['resnet_29_0.5', 'mobilenet_29_1', 'pydmobilenet_add_29_0.5',
                                  'pydmobilenet_concat_29_0.5'])
def test_mxnet_export_roundtrip(name, release_root, images, tmp_path):
    """One model per family: the exported symbol/params reload as a SymbolBlock."""
    net = load_pretrained_quietly(name, 10, release_root)
    expected = net(images[10]).asnumpy()
    sym, params = export_mxnet(deploy(net), str(tmp_path / name))
    back = mx.gluon.nn.SymbolBlock.imports(sym, ['data'], params)
    assert np.abs(back(images[10]).asnumpy() - expected).max() <= 1e-4


@pytest.mark.parametrize('name', ['pydmobilenet_add_29_0.5', 'pydmobilenet_concat_29_0.5'])
def test_gluons_export_of_a_deployed_network_writes_a_graph_any_build_loads(
        name, release_root, images, tmp_path):
    """``deploy(net).export(path)``, Gluon's habit, after the network ran with the MKL-DNN
    fusion: the files hold plain operators (no ``_sg_mkldnn_*`` node, which only an MKL-DNN
    build could load) and reload with the same logits."""
    import json
    net = load_pretrained_quietly(name, 10, release_root)
    expected = net(images[10]).asnumpy()
    deployed = deploy(net)
    deployed(images[10])  # run with the fusion deploy chose
    sym, params = deployed.export(str(tmp_path / name), epoch=3)
    assert params.endswith('-0003.params')
    with open(sym) as f:
        ops = {node['op'] for node in json.load(f)['nodes']}
    assert 'Convolution' in ops and not any(op.startswith('_sg_') for op in ops)
    back = mx.gluon.nn.SymbolBlock.imports(sym, ['data'], params)
    assert np.abs(back(images[10]).asnumpy() - expected).max() <= 1e-4
