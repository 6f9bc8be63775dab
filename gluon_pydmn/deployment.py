"""Deploy mode: an inference-only copy of a trained network with BatchNorm folded away.

``deploy(net)`` rewrites a :class:`~gluon_pydmn.cifar_net.CIFARNet` into an equivalent
inference graph (same outputs up to float rounding):

* every BatchNorm that follows a convolution is folded into that convolution's weights and
  a bias (the 1x1 reduction, the main part, the 1x1 expansion, the projection shortcut);
* the **Add** pyramid becomes one 7x7 depthwise convolution: its branches are linear and
  summed before any nonlinearity, so their kernels, zero-padded to 7x7, add up exactly;
* the **Concat** pyramid keeps three folded depthwise branches, each with its ReLU (so that
  MKL-DNN fuses it), and a concat; ``concat='grouped'`` makes it one grouped convolution
  (``groups = m``, three 7x7 filters per input channel) with interleaved output channels and
  the next 1x1 convolution's input channels permuted to match (exact, since BN and ReLU act
  per channel), which measures several times slower on CPU with MKL-DNN (no fast kernel for
  3 filters per group), hence not the default;
* the stem's fixed BatchNorm (a per-channel affine map of the input) is folded into the stem
  convolution: its scale into the weights, its shift applied before the zero padding so the
  borders stay exact.

Each block's leading BN normalises the residual stream ``y``, which also travels on along
the shortcut, so it cannot go into a neighbouring convolution's weights. Where all its scales
``s`` are positive, ``relu(s * y + t) == s * relu(y + c)`` with ``c = t / s``: ``s`` goes into
the block's first 1x1 convolution and ``c`` into the stream, which then carries ``y + c``. The
convolutions that write the stream (the stem, each block's last 1x1 convolution, a projection
shortcut) add the change of shift to their biases; a projection shortcut, a 1x1 convolution
without padding, also subtracts its image of the incoming shift. The BN then costs nothing
beyond its ReLU. Otherwise (a scale <= 0, a shift too large for float32 to carry exactly,
or the first block, see :func:`_stream_shift`) the BN stays, as a 1x1 depthwise convolution
with bias followed by the ReLU, and the stream carries ``y`` into that block.

On CPU the result is hybridized with MXNet's MKL-DNN graph fusion (convolution + ReLU,
convolution + residual sum), after checking that the fused graph gives the unfused graph's
outputs. The check is needed: MXNet 1.9's fusion pass hands the fused result to every consumer
of a fused intermediate value (a convolution fused with a ReLU gave the ReLU's output also to
a residual sum that wanted the convolution's: max logit error 2.3), and its convolution + sum
fusion gave wrong logits on the authors' graphs. ``MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM`` is
read when MXNet is imported, so setting it later changes nothing.
"""
import collections
import json
import warnings

import mxnet as mx
import numpy as np
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from .blocks import BN_EPSILON, ConvMain, DepthwiseMain, PyramidDepthwise
from .cifar_net import CIFARNet, check_input, recheck_input_values
from .export import export_mxnet
from .utils import context_list

__all__ = ['deploy', 'DeployNet', 'DeployBlock']


def _bn_affine(bn, fixed_gamma=False):
    """Scale and shift (float64 numpy) of an inference BatchNorm: ``y = scale * x + shift``.

    ``fixed_gamma``: the BN has ``scale=False`` (its gamma is taken as 1, whatever it holds).
    """
    get = lambda p: p.data().asnumpy().astype(np.float64)
    gamma = np.ones(bn.gamma.shape) if fixed_gamma else get(bn.gamma)
    scale = gamma / np.sqrt(get(bn.running_var) + BN_EPSILON)
    return scale, get(bn.beta) - get(bn.running_mean) * scale


def _weight(conv):
    return conv.weight.data().asnumpy().astype(np.float64)


def _fold(weight, bn):
    """Fold ``bn`` (after a bias-free conv with ``weight``) into (weight, bias)."""
    scale, shift = _bn_affine(bn)
    return weight * scale[:, None, None, None], shift


def _pad_kernel(weight, size):
    k = weight.shape[-1]
    p = (size - k) // 2
    return np.pad(weight, ((0, 0), (0, 0), (p, p), (p, p)))


def _conv(weight, bias, stride=1, groups=1, ctx=None):
    """A Conv2D holding the given float64 numpy weight/bias (stored as float32)."""
    out_ch, in_per_group, k, _ = weight.shape
    conv = nn.Conv2D(out_ch, k, strides=stride, padding=k // 2, groups=groups,
                     use_bias=bias is not None, in_channels=in_per_group * groups)
    conv.initialize(ctx=ctx)
    conv.weight.set_data(mx.nd.array(weight, dtype='float32'))
    if bias is not None:
        conv.bias.set_data(mx.nd.array(bias, dtype='float32'))
    return conv


class DeployBlock(HybridBlock):
    """Inference form of a residual block: [BN] -> ReLU -> conv+ReLU -> main+ReLU -> conv (+ shortcut).

    ``pre_bn`` is None where the leading BN was folded into the stream's shift and ``conv_in``.
    """

    def __init__(self, pre_bn, conv_in, main, conv_out, shortcut=None, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.pre_bn = pre_bn
            self.conv_in = conv_in
            self.main = main
            self.conv_out = conv_out
            self.shortcut = shortcut

    def hybrid_forward(self, F, x):
        h = F.Activation(act_type='relu', data=self.pre_bn(x) if self.pre_bn is not None else x)
        h = F.Activation(act_type='relu', data=self.conv_in(h))
        h = self.main(h)
        if not isinstance(self.main, _Branches):  # the branches apply their own ReLU
            h = F.Activation(act_type='relu', data=h)
        return self.conv_out(h) + (self.shortcut(x) if self.shortcut is not None else x)


class _Branches(HybridBlock):
    """Concat pyramid kept as folded branches (``concat='branches'``)."""

    def __init__(self, convs, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.convs = nn.HybridSequential(prefix='')
            self.convs.add(*convs)

    def hybrid_forward(self, F, x):
        # ReLU per branch (== ReLU of the concat) lets MKL-DNN fuse it into each convolution
        return F.concat(*[F.Activation(c(x), act_type='relu') for c in self.convs], dim=1)


class DeployNet(HybridBlock):
    """Inference-only network made by :func:`deploy`; same input and output as the source."""

    def __init__(self, stem_shift, stem_conv, blocks, dense, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.stem_shift = self.params.get_constant(
                'stem_shift', mx.nd.array(stem_shift.reshape(1, -1, 1, 1), dtype='float32'))
            self.stem_conv = stem_conv
            self.blocks = nn.HybridSequential(prefix='')
            self.blocks.add(*blocks)
            self.pool = nn.GlobalAvgPool2D()
            self.output = dense

    def forward(self, x, *args):
        check_input(self, x, self.stem_conv.weight.dtype)
        return super().forward(x, *args)

    def hybrid_forward(self, F, x, stem_shift):
        # broadcast_like + elemwise_add, not broadcast_add: x must have exactly 3 channels and
        # 4 dimensions, also in the exported graph (broadcasting would turn grey into RGB)
        h = self.stem_conv(F.elemwise_add(x, F.broadcast_like(stem_shift, x)))
        return self.output(self.pool(self.blocks(h)))

    def hybridize(self, active=True, **kwargs):
        """:meth:`HybridBlock.hybridize` that keeps what :func:`deploy` chose unless told
        otherwise: the MKL-DNN backend where ``fusion == 'MKLDNN'`` (its parity check passed
        on this graph) and ``static_alloc=True`` with ``static_shape`` as ``static_alloc``.
        ``backend=None`` turns the fusion off."""
        if getattr(self, 'fusion', 'none') == 'MKLDNN':
            kwargs.setdefault('backend', 'MKLDNN')
        kwargs.setdefault('static_alloc', True)
        kwargs.setdefault('static_shape', kwargs['static_alloc'])
        super().hybridize(active, **kwargs)

    def export(self, path, epoch=0, remove_amp_cast=True):
        """Write ``path-symbol.json`` and ``path-%04d.params``, as :meth:`HybridBlock.export`
        does, but with plain MXNet operators, never the fused ``_sg_mkldnn_*`` nodes the
        MKL-DNN backend runs here: any MXNet build loads the files
        (``SymbolBlock.imports``), as :func:`~gluon_pydmn.export.export_mxnet` writes them;
        :func:`~gluon_pydmn.export.export_onnx` writes ONNX. Returns both paths."""
        return export_mxnet(self, path, epoch)

    def graph_ops(self):
        """Operator counts of the graph the last forward pass ran, after the backend's
        partitioning (fused MKL-DNN nodes are ``_sg_mkldnn_*``); empty before the first
        hybridized call."""
        graph = getattr(self, '_cached_graph', ())
        if not graph:
            return collections.Counter()
        return collections.Counter(node['op'] for node in json.loads(graph[1].tojson())['nodes']
                                   if node['op'] != 'null')


def _deploy_main(main, bn, conv_out_weight, concat, ctx):
    """Folded main part and (possibly permuted) conv_out weight."""
    scale, shift = _bn_affine(bn)
    if isinstance(main, (ConvMain, DepthwiseMain)):
        w = _weight(main.conv) * scale[:, None, None, None]
        return _conv(w, shift, main.stride, main.groups, ctx), conv_out_weight
    assert isinstance(main, PyramidDepthwise)
    branches = list(main.branches)
    stride, m = main.stride, main.channels
    size = max(main.kernel_sizes)
    if main.merge == 'add':
        w = sum(_pad_kernel(_weight(b), size) for b in branches) * scale[:, None, None, None]
        return _conv(w, shift, stride, m, ctx), conv_out_weight
    n = len(branches)
    ws = [_weight(b) * scale[i * m:(i + 1) * m, None, None, None] for i, b in enumerate(branches)]
    if concat == 'branches':
        convs = [_conv(w, shift[i * m:(i + 1) * m], stride, m, ctx) for i, w in enumerate(ws)]
        return _Branches(convs), conv_out_weight
    # grouped: output channel c * n + i is branch i of input channel c
    w = np.stack([_pad_kernel(w, size) for w in ws], axis=1).reshape(m * n, 1, size, size)
    order = np.arange(n * m).reshape(n, m).T.reshape(-1)  # new channel j <- old channel order[j]
    return _conv(w, shift[order], stride, m, ctx), conv_out_weight[:, order]


MAX_STREAM_SHIFT = 64.0
"""Largest ``|t / s|`` a stream may carry: float32 rounds ``y + c`` to about ``|c| * 6e-8``."""


def _stream_shift(index, scale, shift):
    """Shift ``c = shift / scale`` the stream carries into block ``index`` so that its leading BN
    folds away, or None where the BN must stay.

    Block 0 keeps its BN: its input comes straight from the stem convolution, which MXNet's
    fusion pass would then fuse with the ReLU and pass on ReLU'd to the residual sum too.
    """
    if index == 0 or not (scale > 0).all():
        return None
    c = shift / scale
    return c if np.abs(c).max() <= MAX_STREAM_SHIFT else None


def _hybridize_fused(net, ctx, tolerance=1e-4):
    """Hybridize with MKL-DNN fusion if it keeps the outputs; otherwise plainly, with a warning."""
    probe = mx.nd.array(np.random.RandomState(0).normal(size=(4, 3, 32, 32)), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True, backend=None)
    expected = net(probe).asnumpy()
    if ctx.device_type != 'cpu' or not mx.runtime.Features().is_enabled('MKLDNN'):
        return 'none'
    net.hybridize(static_alloc=True, static_shape=True, backend='MKLDNN')
    try:
        error = float(np.abs(net(probe).asnumpy() - expected).max())
    except mx.base.MXNetError as e:  # MXNet's fusion pass fails on some graphs
        error, reason = float('inf'), str(e).strip().splitlines()[-1]
    else:
        reason = 'max output difference %.3g' % error
    if error <= tolerance:
        return 'MKLDNN'
    warnings.warn('MKL-DNN fusion failed its parity check on the deploy graph (%s); running it '
                  'unfused' % reason)
    net.hybridize(static_alloc=True, static_shape=True, backend=None)
    return 'none'


def deploy(net, concat='branches', fuse=True, ctx=None):
    """Inference-only copy of a trained :class:`~gluon_pydmn.cifar_net.CIFARNet`.

    Parameters
    ----------
    net : CIFARNet
        A network with initialised (e.g. pretrained) parameters. It is not modified.
    concat : {'branches', 'grouped'}
        How to run the Concat pyramid: three folded depthwise branches and a concat (default)
        or one grouped 7x7 convolution.
    fuse : bool, default True
        Hybridize with MKL-DNN fusion when it passes a parity check (CPU builds with MKL-DNN);
        otherwise or with ``fuse=False`` hybridize plainly. ``net.fusion`` tells which.
    ctx : Context, default ``mx.cpu()``

    Returns
    -------
    DeployNet
        Same logits as ``net`` in inference mode (to float32 rounding), hybridized; calling
        its ``hybridize()`` again keeps the fusion. Not trainable: its BatchNorms are gone.
        Export it with :func:`gluon_pydmn.export.export_mxnet` or
        :func:`gluon_pydmn.export.export_onnx`.
    """
    if concat not in ('branches', 'grouped'):
        raise ValueError("concat must be 'branches' or 'grouped', got %r" % (concat,))
    if isinstance(net, DeployNet):
        raise TypeError('this network is already deployed: call deploy() on the CIFARNet it '
                        'was made from')
    if not isinstance(net, CIFARNet):
        raise TypeError('deploy() takes a gluon_pydmn CIFARNet, got %s' % type(net).__name__)
    try:
        net.stem_conv.weight.data()
    except (RuntimeError, mx.gluon.parameter.DeferredInitializationError):
        raise ValueError('deploy() needs a network with initialised parameters: load weights '
                         'first (get_model(..., pretrained=True) or checkpoint_path=...)') from None
    ctx = context_list(ctx)[0]
    scale, shift = _bn_affine(net.stem_bn, fixed_gamma=True)
    # conv(pad(scale*x + shift)) == conv_{w*scale}(pad(x + shift/scale)): zero padding stays exact
    stem_w = _weight(net.stem_conv) * scale[None, :, None, None]
    source_blocks = net.blocks()
    pre_bns = [_bn_affine(block.pre_bn) for block in source_blocks]
    folded = [_stream_shift(i, *affine) for i, affine in enumerate(pre_bns)]
    # the stream's shift into each block and after the last one (0: it carries y itself)
    shifts = [0.0 if c is None else c for c in folded] + [0.0]
    stem_conv = _conv(stem_w, shifts[0] + np.zeros(stem_w.shape[0]), 1, 1, ctx)
    blocks = []
    for i, block in enumerate(source_blocks):
        (bn_scale, bn_shift), shift_in, shift_out = pre_bns[i], shifts[i], shifts[i + 1]
        w_in, b_in = _fold(_weight(block.conv_in), block.bn_in)
        if folded[i] is not None:
            pre_bn, w_in = None, w_in * bn_scale[None, :, None, None]
        else:
            pre_bn = _conv(bn_scale[:, None, None, None], bn_shift, groups=len(bn_scale), ctx=ctx)
        conv_in = _conv(w_in, b_in, ctx=ctx)
        main, out_w = _deploy_main(block.main, block.bn_main, _weight(block.conv_out), concat, ctx)
        w, b = _fold(out_w, block.bn_out)
        shortcut = None
        if block.shortcut is None:
            b = b + shift_out - shift_in
        else:
            w_sc, b_sc = _fold(_weight(block.shortcut_conv), block.shortcut_bn)
            b_sc = b_sc - w_sc[:, :, 0, 0] @ (shift_in + np.zeros(w_sc.shape[1])) + shift_out
            shortcut = _conv(w_sc, b_sc, block.stride, ctx=ctx)
        conv_out = _conv(w, b, ctx=ctx)
        blocks.append(DeployBlock(pre_bn, conv_in, main, conv_out, shortcut))
    units, in_units = net.output.weight.shape
    dense = nn.Dense(units, in_units=in_units)
    dense.initialize(ctx=ctx)
    dense.weight.set_data(net.output.weight.data())
    dense.bias.set_data(net.output.bias.data())
    out = DeployNet(shift / scale, stem_conv, blocks, dense)
    out.stem_shift.initialize(ctx=ctx)
    out.pretrained_cfg = getattr(net, 'pretrained_cfg', None)
    out.model_name = getattr(net, 'model_name', None)
    out.fusion = _hybridize_fused(out, ctx) if fuse else 'none'
    if not fuse:
        out.hybridize(static_alloc=True, static_shape=True, backend=None)
    recheck_input_values(out)  # the parity check's batch is not the user's
    return out
