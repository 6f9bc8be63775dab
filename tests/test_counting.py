"""FLOPs and parameter counting on networks whose counts can be worked out by hand."""
import mxnet as mx
import pytest
from mxnet.gluon import nn

import gluon_pydmn as g
from gluon_pydmn.blocks import PyramidDepthwise


def test_counts_of_a_small_network():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, 3, padding=1, use_bias=False, in_channels=3),         # 32*32*8*27
            nn.BatchNorm(in_channels=8),                                       # params 16
            nn.Conv2D(8, 5, strides=2, padding=2, groups=8, in_channels=8),    # 16*16*8*25 (+8 bias)
            nn.GlobalAvgPool2D(), nn.Dense(10, in_units=8))                    # 80 (+10 bias)
    net.initialize()
    assert g.count_flops(net) == 32 * 32 * 8 * 27 + 16 * 16 * 8 * 25 + 80
    assert g.count_flops(net, input_shape=(4, 3, 32, 32)) == g.count_flops(net)  # per image
    assert g.count_params(net) == 8 * 27 + 16 + 8 * 25 + 8 + 80 + 10


def test_layers_without_input_sizes_are_counted_before_their_first_input():
    """Gluon layers built without ``in_channels``/``in_units`` (as GluonCV builds them) have
    no weight shape until data flows: the count infers it instead of counting nothing."""
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, 3, padding=1, use_bias=False), nn.BatchNorm(), nn.Activation('relu'),
            nn.Conv2D(4, 1), nn.GlobalAvgPool2D(), nn.Dense(10))
    net.initialize()
    hand = 8 * 3 * 9 + 2 * 8 + 4 * 8 + 4 + 10 * 4 + 10
    assert g.count_params(net) == hand
    assert g.count_params(net, input_shape=(2, 3, 16, 16)) == hand
    net(mx.nd.zeros((1, 3, 32, 32)))  # shapes now known: the same count
    assert g.count_params(net) == hand
    one_channel = nn.HybridSequential()
    one_channel.add(nn.Conv2D(8, 3, use_bias=False))
    one_channel.initialize()
    assert g.count_params(one_channel, input_shape=(1, 1, 8, 8)) == 8 * 9


def test_fixed_batchnorm_is_not_counted():
    bn = nn.BatchNorm(scale=False, center=False, in_channels=3)
    bn.initialize()
    assert g.count_params(bn) == 0


@pytest.mark.parametrize('merge, channels_out', [('add', 16), ('concat', 48)])
def test_pyramid_costs(merge, channels_out):
    block = PyramidDepthwise(16, 1, (3, 5, 7), merge=merge)
    block.initialize()
    assert block(mx.nd.zeros((1, 16, 8, 8))).shape == (1, channels_out, 8, 8)
    assert g.count_params(block) == 16 * (9 + 25 + 49)
    assert g.count_flops(block, input_shape=(1, 16, 8, 8)) == 8 * 8 * 16 * (9 + 25 + 49)
