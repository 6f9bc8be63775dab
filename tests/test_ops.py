"""The C++ pyramid operator against MXNet's own depthwise convolutions, in float64."""
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd

from gluon_pydmn import ops

# (N, C, H, stride): widths that are and are not multiples of the 8-float vector, odd sizes,
# and the sizes of the networks (32, 16, 8, stride 2 at the stage transitions).
SHAPES = [(4, 8, 32, 1), (4, 12, 32, 2), (3, 5, 7, 1), (2, 6, 9, 2), (4, 24, 16, 1),
          (2, 48, 8, 1), (2, 16, 16, 2), (2, 3, 1, 1)]
PYRAMIDS = [((3, 5, 7), 'add'), ((3, 5, 7), 'concat'), ((3,), 'add'), ((7, 3), 'concat'),
            ((5, 1), 'add'), ((3, 5, 7, 9), 'concat')]


def branches(x, weights, kernel_sizes, stride, merge):
    c = x.shape[1]
    outs = [nd.Convolution(x, w, kernel=(k, k), stride=(stride, stride), pad=(k // 2, k // 2),
                           num_filter=c, num_group=c, no_bias=True)
            for w, k in zip(weights, kernel_sizes)]
    return nd.add_n(*outs) if merge == 'add' else nd.concat(*outs, dim=1)


def value_and_grads(fn, x, weights, dy):
    x, weights = x.copy(), [w.copy() for w in weights]
    for a in [x] + weights:
        a.attach_grad()
    with autograd.record():
        y = fn(x, weights)
    y.backward(dy)
    return [y.asnumpy(), x.grad.asnumpy()] + [w.grad.asnumpy() for w in weights]


@pytest.mark.parametrize('kernel_sizes,merge', PYRAMIDS)
@pytest.mark.parametrize('n,c,h,stride', SHAPES)
def test_operator_matches_separate_branches(n, c, h, stride, kernel_sizes, merge):
    """Output, input gradient and every kernel gradient: to 1e-12 relative in float64, and to
    1e-5 relative in float32 (which runs the AVX2 kernels) against the float64 reference."""
    rng = np.random.RandomState(n * 100 + c * 10 + h)
    x = nd.array(rng.normal(size=(n, c, h, h)), dtype='float64')
    weights = [nd.array(rng.normal(size=(c, 1, k, k)), dtype='float64') for k in kernel_sizes]
    ho = (h - 1) // stride + 1
    out_c = c * (len(kernel_sizes) if merge == 'concat' else 1)
    dy = nd.array(rng.normal(size=(n, out_c, ho, ho)), dtype='float64')
    expected = value_and_grads(lambda a, ws: branches(a, ws, kernel_sizes, stride, merge),
                               x, weights, dy)
    op = lambda a, ws: ops.pyramid_depthwise(nd, a, ws, kernel_sizes, stride, merge)
    for dtype, tol in (('float64', 1e-12), ('float32', 1e-5)):
        got = value_and_grads(op, x.astype(dtype), [w.astype(dtype) for w in weights],
                              dy.astype(dtype))
        assert [g.shape for g in got] == [e.shape for e in expected]
        for what, g, e in zip(['output', 'data'] + ['weight%d' % k for k in kernel_sizes],
                              got, expected):
            assert np.abs(g - e).max() <= tol * np.abs(e).max(), (dtype, what)


def test_operator_hybridizes_and_exports_its_attributes():
    x = mx.sym.var('data')
    ws = [mx.sym.var('w%d' % k) for k in (3, 5, 7)]
    y = ops.pyramid_depthwise(mx.sym, x, ws, (3, 5, 7), 2, 'concat')
    _, out_shapes, _ = y.infer_shape(data=(2, 8, 32, 32))
    assert out_shapes == [(2, 24, 16, 16)]
    assert y.attr_dict()[y.name] == {'kernels': '3,5,7', 'stride': '2', 'merge': 'concat'}


@pytest.mark.parametrize('attrs,message', [
    (dict(kernels='3,4', stride=1, merge='add'), 'odd sizes'),
    (dict(kernels='3', stride=0, merge='add'), 'stride >= 1'),
    (dict(kernels='3', stride=1, merge='max'), 'merge'),
])
def test_bad_attributes_are_named(attrs, message):
    ops.extension_available()
    x, w = nd.ones((1, 2, 4, 4)), nd.ones((2, 1, 3, 3))
    with pytest.raises(mx.base.MXNetError, match=message):
        nd.pyd_pyramid_depthwise(x, *[w] * len(attrs['kernels'].split(',')), **attrs).wait_to_read()


def test_wrong_weight_shape_is_named():
    x, w = nd.ones((1, 2, 4, 4)), nd.ones((2, 1, 5, 5))
    with pytest.raises(mx.base.MXNetError, match=r'weight 0 must be \(2, 1, 3, 3\)'):
        ops.pyramid_depthwise(nd, x, [w], (3,), 1, 'add').wait_to_read()


def test_build_is_cached_and_compiler_errors_are_explained(tmp_path, monkeypatch):
    path = ops.build_extension()
    assert os.path.isfile(path) and ops.build_extension() == path
    monkeypatch.setenv('GLUON_PYDMN_CACHE', str(tmp_path))
    monkeypatch.setenv('CXX', str(tmp_path / 'no-such-compiler'))
    with pytest.raises(RuntimeError, match='install g\\+\\+ or set CXX'):
        ops.build_extension()
    assert not any(tmp_path.rglob('*.so'))  # nothing half-written left in the cache
