"""The fast training graph computes the same function and gradients as the faithful one."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

import gluon_pydmn as g
from gluon_pydmn.blocks import PyramidDepthwise, faithful
from gluon_pydmn.convert import param_layers

ZOO = g.get_model_list()


def outputs_and_grads(net, x, y, dtype):
    net.cast(dtype)
    with autograd.record():
        out = net(x.astype(dtype))
        loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()(out, y.astype(dtype))
    loss.backward()
    prefix = len(net.prefix)
    return out.asnumpy(), {name[prefix:]: p.grad().asnumpy().copy()
                           for name, p in net.collect_params().items() if p.grad_req != 'null'}


@pytest.mark.parametrize('name', ZOO)
def test_fast_graph_same_outputs_and_gradients(name, release_root):
    """In float64 the two graphs agree to rounding (1e-10 relative per tensor, with a floor at
    1e-3 of the largest gradient for tensors whose gradient is zero up to rounding); in float32,
    gradients agree to 1e-4 of the largest gradient. Released weights load into both."""
    rng = np.random.RandomState(0)
    x, y = mx.nd.array(rng.normal(size=(4, 3, 32, 32))), mx.nd.array(rng.randint(0, 10, 4))
    for dtype, tol in (('float64', 1e-10), ('float32', 1e-4)):
        results = []
        for fast in (False, True):
            net = g.get_model(name, pretrained=True, root=release_root, fast=fast)
            net.hybridize()
            results.append(outputs_and_grads(net, x, y, dtype))
        (out_ref, grad_ref), (out_fast, grad_fast) = results
        assert sorted(grad_ref) == sorted(grad_fast)  # same parameters
        scale = max(np.abs(v).max() for v in grad_ref.values())
        assert np.abs(out_fast - out_ref).max() <= tol * max(1, np.abs(out_ref).max())
        if dtype == 'float64':
            for key in grad_ref:
                floor = max(np.abs(grad_ref[key]).max(), 1e-3 * scale)
                assert np.abs(grad_fast[key] - grad_ref[key]).max() <= tol * floor, key
        else:
            assert max(np.abs(grad_fast[k] - grad_ref[k]).max() for k in grad_ref) <= tol * scale


def test_fast_add_pyramid_is_one_convolution():
    net = g.get_cifar_net('pydmobilenet_add', 29, 0.25, fast=True)
    ops = lambda: [layer for layer in param_layers(net(mx.sym.var('data')).tojson())]
    convs = [l for l in ops() if l[0] == 'Convolution']
    with faithful(net):
        faithful_convs = [l for l in ops() if l[0] == 'Convolution']
    assert len(faithful_convs) - len(convs) == 2 * 9  # two fewer convolutions in each of 9 blocks
    blocks = []
    net.apply(lambda b: blocks.append(b) if isinstance(b, PyramidDepthwise) else None)
    assert len(blocks) == 9 and all(b.fast for b in blocks)  # restored after faithful()
    assert g.count_flops(net) == g.count_flops(g.get_cifar_net('pydmobilenet_add', 29, 0.25))
