"""The residual blocks compute what the paper describes."""
import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.blocks import PyramidDepthwise, ResidualBlock


def test_pyramid_add_is_the_sum_and_concat_the_stack_of_its_branches():
    x = mx.nd.random.normal(shape=(2, 6, 9, 9))
    for merge in ('add', 'concat'):
        block = PyramidDepthwise(6, 2, (3, 5, 7), merge=merge)
        block.initialize(mx.init.Xavier())
        branches = [b(x).asnumpy() for b in block.branches]
        expected = sum(branches) if merge == 'add' else np.concatenate(branches, axis=1)
        np.testing.assert_allclose(block(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)
        assert block(x).shape[2:] == (5, 5)


@pytest.mark.parametrize('main', ['conv', 'depthwise', 'pyramid_add', 'pyramid_concat'])
def test_block_order_and_shortcut(main):
    block = ResidualBlock(32, 64, 2, 0.5, main)
    block.initialize(mx.init.Xavier())
    x = mx.nd.random.normal(shape=(2, 32, 8, 8))
    assert block(x).shape == (2, 64, 4, 4)
    assert block.shortcut is not None
    # with the body's last BN at gamma = beta = 0 the block is its shortcut alone
    block.bn_out.gamma.set_data(mx.nd.zeros(64))
    shortcut = block.shortcut_bn(block.shortcut_conv(x))
    np.testing.assert_allclose(block(x).asnumpy(), shortcut.asnumpy(), rtol=1e-5, atol=1e-5)
    same = ResidualBlock(32, 32, 1, 0.5, main)
    same.initialize()
    assert same.shortcut is None and same.shortcut_conv is None
    same.bn_out.gamma.set_data(mx.nd.zeros(32))
    np.testing.assert_allclose(same(x).asnumpy(), x.asnumpy(), rtol=1e-5, atol=1e-5)


def test_unknown_main_part():
    with pytest.raises(ValueError, match='unknown main part'):
        ResidualBlock(32, 32, 1, 1, 'shuffle')


def test_named_parts_are_the_layers_of_the_forward_pass():
    block = ResidualBlock(32, 64, 2, 0.5, 'pyramid_concat')
    block.initialize()
    assert isinstance(block.main, PyramidDepthwise)
    assert (block.main.channels, block.main.stride, block.stride) == (32, 2, 2)
    shapes = {part: getattr(block, part).weight.shape
              for part in ('conv_in', 'conv_out', 'shortcut_conv')}
    assert shapes == {'conv_in': (32, 32, 1, 1), 'conv_out': (64, 96, 1, 1),
                      'shortcut_conv': (64, 32, 1, 1)}
    assert [getattr(block, bn).gamma.shape for bn in ('pre_bn', 'bn_in', 'bn_main', 'bn_out',
                                                      'shortcut_bn')] == [
        (32,), (32,), (96,), (64,), (64,)]
    # the forward pass, spelled out with the names
    x = mx.nd.random.normal(shape=(2, 32, 8, 8))
    relu = mx.nd.relu
    h = block.conv_in(relu(block.pre_bn(x)))
    h = block.conv_out(relu(block.bn_main(block.main(relu(block.bn_in(h))))))
    expected = block.bn_out(h) + block.shortcut_bn(block.shortcut_conv(x))
    np.testing.assert_allclose(block(x).asnumpy(), expected.asnumpy(), rtol=1e-5, atol=1e-5)


def test_network_parts_and_parameter_names():
    net = g.get_cifar_net('mobilenet', 29, 0.5, initialize=True)
    assert [len(stage) for stage in net.stages()] == [3, 3, 3] and len(net.blocks()) == 9
    assert net.stem_conv.weight.shape == (32, 3, 3, 3) and net.stem_bn.gamma.grad_req == 'null'
    x = mx.nd.random.normal(shape=(2, 3, 32, 32))
    h = net.stem_conv(net.stem_bn(x))
    for block in net.blocks():
        h = block(h)
    np.testing.assert_allclose(net(x).asnumpy(), net.output(net.pool(h)).asnumpy(), rtol=1e-5,
                               atol=1e-5)
    # checkpoints are saved under these structural names
    names = list(net._collect_params_with_prefix())
    assert names[:3] == ['features.0.gamma', 'features.0.beta', 'features.0.running_mean']
    assert 'features.2.0.body.5.conv.weight' in names  # stage 1, block 0, main part
    assert 'features.3.0.shortcut.0.weight' in names and names[-2:] == ['output.weight',
                                                                        'output.bias']
