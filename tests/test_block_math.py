"""Each block type's forward pass against a re-computation in float64 numpy.

The reference applies the layers in the order of the authors' graphs (``../shared/README.md``)
with inference-mode BatchNorm on random, non-trivial running statistics, gamma and beta, so
a swapped or missing layer, a wrong branch order or a wrong shortcut changes the output:

    BN -> ReLU -> 1x1 conv -> BN -> ReLU -> main part -> BN -> ReLU -> 1x1 conv -> BN
    (+ identity, or 1x1 strided conv -> BN)
"""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon_pydmn.blocks import ResidualBlock

EPS = 1e-5  # Gluon's BatchNorm default


def _bn(x, p):
    scale = p['gamma'] / np.sqrt(p['running_var'] + EPS)
    return x * scale[None, :, None, None] + (p['beta'] - p['running_mean'] * scale)[None, :, None, None]


def _relu(x):
    return np.maximum(x, 0)


def _conv(x, w, stride=1, groups=1):
    """Zero-padded ('same') convolution, ``w`` of shape (out, in / groups, k, k), no bias."""
    n, c, h, width = x.shape
    out_channels, per_group, k, _ = w.shape
    pad = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (width + 2 * pad - k) // stride + 1
    out = np.zeros((n, out_channels, oh, ow))
    outs_per_group = out_channels // groups
    for g in range(groups):
        xg = xp[:, g * per_group:(g + 1) * per_group]
        wg = w[g * outs_per_group:(g + 1) * outs_per_group]
        for i in range(k):
            for j in range(k):
                patch = xg[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                out[:, g * outs_per_group:(g + 1) * outs_per_group] += np.einsum(
                    'nchw,oc->nohw', patch, wg[:, :, i, j])
    return out


def _reference(x, main, stride, bns, convs, main_weights, shortcut):
    """The block by hand: ``bns``/``convs`` are the body's BatchNorms and 1x1 convolutions in
    order, ``main_weights`` the main part's kernels by kernel size."""
    m = convs[0].shape[0]
    y = _conv(_relu(_bn(x, bns[0])), convs[0])
    y = _relu(_bn(y, bns[1]))
    if main == 'conv':
        y = _conv(y, main_weights[3], stride)
    elif main == 'depthwise':
        y = _conv(y, main_weights[3], stride, groups=m)
    else:
        branches = [_conv(y, main_weights[k], stride, groups=m) for k in (3, 5, 7)]
        y = sum(branches) if main == 'pyramid_add' else np.concatenate(branches, axis=1)
    y = _bn(_conv(_relu(_bn(y, bns[2])), convs[1]), bns[3])
    if shortcut is None:
        return y + x
    return y + _bn(_conv(x, shortcut[0], stride), shortcut[1])


def _randomise(block, rng):
    """Random weights and BatchNorm statistics; returns every parameter as float64 numpy."""
    values = {}
    for name, p in block.collect_params().items():
        shape = p.shape
        if name.endswith('running_var'):
            v = rng.uniform(0.5, 2.0, shape)
        elif name.endswith('gamma'):
            v = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        elif name.endswith(('beta', 'running_mean')):
            v = rng.normal(0, 0.5, shape)
        else:
            v = rng.normal(0, 1.0 / np.sqrt(np.prod(shape[1:])), shape)
        p.set_data(mx.nd.array(v))
        values[name] = p.data().asnumpy().astype(np.float64)
    return values


def _bn_values(bn, values):
    return {k: values[getattr(bn, k).name]
            for k in ('gamma', 'beta', 'running_mean', 'running_var')}


def _layers(sequence, kind):
    return [layer for layer in sequence if isinstance(layer, kind)]


@pytest.mark.parametrize('main, fast', [('conv', False), ('depthwise', False),
                                        ('pyramid_add', False), ('pyramid_add', True),
                                        ('pyramid_concat', False), ('pyramid_concat', True)])
@pytest.mark.parametrize('in_channels, channels, stride', [(16, 16, 1), (8, 16, 2)])
def test_block_forward_matches_the_layers_by_hand(main, fast, in_channels, channels, stride):
    rng = np.random.RandomState(0)
    block = ResidualBlock(in_channels, channels, stride, 0.5, main, fast=fast)
    block.initialize()
    values = _randomise(block, rng)
    x = rng.normal(0, 1, (2, in_channels, 9, 9)).astype(np.float32)
    bns = [_bn_values(bn, values) for bn in _layers(block.body, nn.BatchNorm)]
    convs = [values[c.weight.name] for c in _layers(block.body, nn.Conv2D)]
    main_part, = [layer for layer in block.body
                  if not isinstance(layer, (nn.BatchNorm, nn.Activation, nn.Conv2D))]
    main_weights = {values[n].shape[-1]: values[n] for n in main_part.collect_params()}
    assert len(bns) == 4 and len(convs) == 2
    assert sorted(main_weights) == ([3] if main in ('conv', 'depthwise') else [3, 5, 7])
    shortcut = None
    if block.shortcut is not None:
        shortcut = ([values[c.weight.name] for c in _layers(block.shortcut, nn.Conv2D)][0],
                    _bn_values(_layers(block.shortcut, nn.BatchNorm)[0], values))
    assert (shortcut is None) == (stride == 1 and in_channels == channels)
    expected = _reference(x.astype(np.float64), main, stride, bns, convs, main_weights, shortcut)
    out = block(mx.nd.array(x)).asnumpy()
    size = 9 if stride == 1 else 5
    assert out.shape == expected.shape == (2, channels, size, size)
    scale = np.abs(expected).max()
    assert np.abs(out - expected).max() <= 1e-5 * scale, (
        '%s block (stride %d) differs from BN -> ReLU -> conv ... by hand by %.3g (scale %.3g)'
        % (main, stride, np.abs(out - expected).max(), scale))
