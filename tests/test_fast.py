"""The fast training graph (each pyramid as one C++ operator) computes the same function and
gradients as the graph with separate branches."""
import json

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

import gluon_pydmn as g
from gluon_pydmn.blocks import PyramidDepthwise, separate_branches

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


def max_error(grads, reference):
    return max(np.abs(grads[k] - reference[k]).max() for k in reference)


@pytest.mark.parametrize('name', ZOO)
def test_fast_graph_same_outputs_and_gradients(name, release_root, cifar10_test):
    """Released weights load into both graphs, which have the same parameters. In float64 they
    agree to rounding: outputs to 1e-10, each gradient tensor to 1e-10 of its largest entry
    (with a floor at 1e-3 of the largest gradient for tensors that are zero up to rounding).
    In float32 the fast graph is as accurate as the separate branches: its largest gradient error
    against float64 is at most 1e-4 of the largest gradient, or twice the separate branches' own
    float32 error where MKL-DNN's float32 BatchNorm makes that larger."""
    x = g.data.normalize_images(cifar10_test.images[:4])
    y = mx.nd.array(cifar10_test.labels[:4])
    results = {}
    for dtype in ('float64', 'float32'):
        for fast in (False, True):
            net = g.get_model(name, pretrained=True, root=release_root, fast=fast)
            net.hybridize()
            results[dtype, fast] = outputs_and_grads(net, x, y, dtype)
    out_ref, grad_ref = results['float64', False]
    out_fast, grad_fast = results['float64', True]
    assert sorted(grad_ref) == sorted(grad_fast)
    assert np.abs(out_fast - out_ref).max() <= 1e-10 * max(1, np.abs(out_ref).max())
    scale = max(np.abs(v).max() for v in grad_ref.values())
    for key in grad_ref:
        floor = max(np.abs(grad_ref[key]).max(), 1e-3 * scale)
        assert np.abs(grad_fast[key] - grad_ref[key]).max() <= 1e-10 * floor, key
    out32, grad32 = results['float32', True]
    assert np.abs(out32 - out_ref).max() <= 1e-4 * max(1, np.abs(out_ref).max())
    branches32 = max_error(results['float32', False][1], grad_ref)
    assert max_error(grad32, grad_ref) <= max(1e-4 * scale, 2 * branches32)


@pytest.mark.parametrize('family', ['pydmobilenet_add', 'pydmobilenet_concat'])
def test_fast_pyramid_is_one_operator(family):
    net = g.get_cifar_net(family, 29, 0.25, fast=True, initialize=True)

    def count(op, grouped=False):
        nodes = json.loads(net(mx.sym.var('data')).tojson())['nodes']
        return sum(n['op'] == op and (not grouped or n['attrs'].get('num_group', '1') != '1')
                   for n in nodes)
    assert count('pyd_pyramid_depthwise') == 9 and count('Convolution', grouped=True) == 0
    with separate_branches(net):
        assert count('pyd_pyramid_depthwise') == 0
        assert count('Convolution', grouped=True) == 27  # three branches in each of 9 blocks
    blocks = []
    net.apply(lambda b: blocks.append(b) if isinstance(b, PyramidDepthwise) else None)
    assert len(blocks) == 9 and all(b.fast for b in blocks)  # restored after separate_branches()
    assert g.count_flops(net) == g.count_flops(g.get_cifar_net(family, 29, 0.25))


def test_fast_refuses_gpu_context():
    with pytest.raises(ValueError, match='fast=False'):
        g.get_cifar_net('pydmobilenet_add', 29, 0.25, ctx=mx.gpu(0), fast=True)


PYRAMIDS = [n for n in ZOO if n.startswith('pydmobilenet')]


@pytest.mark.parametrize('name', PYRAMIDS)
def test_fast_graph_trains_like_the_separate_branches(name, cifar10_test):
    """Three NAG steps in float64, as train() runs them (hybridized with static memory, the
    optimizer's state carried from step to step), leave the fast graph with the weights and
    BatchNorm statistics of the un-hybridized graph with separate branches (1e-10)."""
    nets, trainers = [], []
    for fast in (False, True):
        mx.random.seed(0)
        net = g.get_model(name, fast=fast, initialize=True)
        net.cast('float64')
        if fast:
            net.hybridize(static_alloc=True, static_shape=True)
        nets.append(net)
        trainers.append(mx.gluon.Trainer(net.collect_params(), 'nag', {
            'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1e-4}))
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    for step in range(3):
        x = g.data.normalize_images(cifar10_test.images[8 * step:8 * step + 8]).astype('float64')
        y = mx.nd.array(cifar10_test.labels[8 * step:8 * step + 8], dtype='float64')
        for net, trainer in zip(nets, trainers):
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(8)
    separate, fused = ({k[len(n.prefix):]: p.data().asnumpy()
                        for k, p in n.collect_params().items()} for n in nets)
    assert sorted(separate) == sorted(fused)
    for key, value in separate.items():
        assert np.abs(fused[key] - value).max() <= 1e-10 * max(1, np.abs(value).max()), key
