"""The residual blocks compute what the paper describes."""
import mxnet as mx
import numpy as np
import pytest

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
    block.body[-1].gamma.set_data(mx.nd.zeros(64))
    np.testing.assert_allclose(block(x).asnumpy(), block.shortcut(x).asnumpy(), rtol=1e-5, atol=1e-5)
    same = ResidualBlock(32, 32, 1, 0.5, main)
    same.initialize()
    assert same.shortcut is None
    same.body[-1].gamma.set_data(mx.nd.zeros(32))
    np.testing.assert_allclose(same(x).asnumpy(), x.asnumpy(), rtol=1e-5, atol=1e-5)


def test_unknown_main_part():
    with pytest.raises(ValueError, match='unknown main part'):
        ResidualBlock(32, 32, 1, 1, 'shuffle')
