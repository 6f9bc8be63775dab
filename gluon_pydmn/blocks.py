"""Residual blocks of PydMobileNet (Hoang & Jo, 2018), Figure 1 / Table 2.

Every block is the pre-activation bottleneck found in the authors' released
graphs::

    BN -> ReLU -> 1x1 conv (d_in -> m) -> BN -> ReLU -> main part (stride s)
       -> BN -> ReLU -> 1x1 conv (-> d_out) -> BN   (+ shortcut, no ReLU after)

with ``m = int(multiplier * d_out)`` inner channels. Only the *main part*
differs between the four block types:

========================  ====================================================
``'conv'``                one 3x3 convolution m -> m (ResNet)
``'depthwise'``           one 3x3 depthwise convolution (MobileNet)
``'pyramid_add'``         3x3, 5x5, 7x7 depthwise convolutions summed
``'pyramid_concat'``      the same three, concatenated to 3m channels
========================  ====================================================

The shortcut is the identity, or a strided 1x1 convolution followed by BN when
the block changes resolution or width. No convolution has a bias.

:class:`ResidualBlock` names its parts (``pre_bn``, ``conv_in``, ``bn_in``, ``main``,
``bn_main``, ``conv_out``, ``bn_out``, ``shortcut_conv``, ``shortcut_bn``); they are views of
its children ``body`` and ``shortcut``, whose order fixes the parameter names that converted
weights and training checkpoints are saved under.
"""
import contextlib

from mxnet import nd
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from . import ops

__all__ = ['MAIN_PARTS', 'BN_EPSILON', 'ConvMain', 'DepthwiseMain', 'PyramidDepthwise',
           'ResidualBlock', 'make_main_part', 'main_part_out_channels', 'separate_branches']

DEFAULT_KERNEL_SIZES = (3, 5, 7)
BN_EPSILON = 1e-5
"""The epsilon of every BatchNorm of these networks (Gluon's default, as in the authors' graphs)."""


def batch_norm(channels, **kwargs):
    """A BatchNorm of these networks over ``channels`` channels."""
    return nn.BatchNorm(epsilon=BN_EPSILON, in_channels=channels, **kwargs)


def _depthwise(channels, kernel_size, stride):
    return nn.Conv2D(channels, kernel_size, strides=stride, padding=kernel_size // 2,
                     groups=channels, use_bias=False, in_channels=channels)


class ConvMain(HybridBlock):
    """ResNet main part: a single 3x3 convolution ``channels -> channels`` (``conv``)."""

    def __init__(self, channels, stride, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.stride, self.groups = channels, stride, 1
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, strides=stride, padding=1, use_bias=False,
                                  in_channels=channels)

    def hybrid_forward(self, F, x):
        return self.conv(x)


class DepthwiseMain(HybridBlock):
    """MobileNet main part: a single 3x3 depthwise convolution (``conv``)."""

    def __init__(self, channels, stride, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.stride, self.groups = channels, stride, channels
        with self.name_scope():
            self.conv = _depthwise(channels, 3, stride)

    def hybrid_forward(self, F, x):
        return self.conv(x)


class PyramidDepthwise(HybridBlock):
    """Pyramid depthwise convolution: one depthwise branch per kernel size.

    Parameters
    ----------
    channels : int
        Input channels (and channels of every branch).
    stride : int
        Stride of every branch.
    kernel_sizes : sequence of int
        Odd kernel sizes of the branches, ``(3, 5, 7)`` in the paper.
    merge : {'add', 'concat'}
        ``'add'`` sums the branches (output ``channels``), ``'concat'``
        concatenates them along channels (output ``len(kernel_sizes) * channels``).
    fast : bool, default False
        Run the whole pyramid as one C++ operator (:mod:`gluon_pydmn.ops`), forward and
        backward, instead of MKL-DNN's depthwise convolutions, whose 5x5/7x7 weight gradients
        are slow. Same parameters, same function and gradients; several times faster to train
        on CPU. CPU only (on a GPU keep ``False``). Falls back to the separate branches, with
        a warning, when the operator cannot be built. The flag can be switched on an existing
        block (``block.fast = False``). 3x3 depthwise convolutions (MobileNet) stay with
        MKL-DNN, which is faster for them.
    """

    def __init__(self, channels, stride, kernel_sizes=DEFAULT_KERNEL_SIZES, merge='add',
                 fast=False, **kwargs):
        super().__init__(**kwargs)
        if merge not in ('add', 'concat'):
            raise ValueError("merge must be 'add' or 'concat', got %r" % (merge,))
        if not kernel_sizes or any(k % 2 != 1 for k in kernel_sizes):
            raise ValueError('kernel_sizes must be a non-empty sequence of odd ints, got %r'
                             % (kernel_sizes,))
        self.merge = merge
        self.kernel_sizes = tuple(kernel_sizes)
        self.channels, self.stride = channels, stride
        self.fast = fast
        with self.name_scope():
            self.branches = nn.HybridSequential(prefix='')
            for k in self.kernel_sizes:
                self.branches.add(_depthwise(channels, k, stride))

    def hybrid_forward(self, F, x):
        if self.fast and ops.extension_available():
            weights = [b.weight.data(x.context) if F is nd else b.weight.var()
                       for b in self.branches]
            return ops.pyramid_depthwise(F, x, weights, self.kernel_sizes, self.stride,
                                         self.merge)
        outs = [branch(x) for branch in self.branches]
        if self.merge == 'concat':
            return F.concat(*outs, dim=1)
        # Summed left to right, ((b3 + b5) + b7), as in the authors' graph.
        y = outs[0]
        for out in outs[1:]:
            y = y + out
        return y


MAIN_PARTS = ('conv', 'depthwise', 'pyramid_add', 'pyramid_concat')


def make_main_part(main, channels, stride, kernel_sizes=DEFAULT_KERNEL_SIZES, fast=False):
    """Build the main part named ``main`` (one of :data:`MAIN_PARTS`)."""
    if main == 'conv':
        return ConvMain(channels, stride)
    if main == 'depthwise':
        return DepthwiseMain(channels, stride)
    if main in ('pyramid_add', 'pyramid_concat'):
        return PyramidDepthwise(channels, stride, kernel_sizes, merge=main[len('pyramid_'):],
                                fast=fast)
    raise ValueError('unknown main part %r; choose one of %s' % (main, ', '.join(MAIN_PARTS)))


def main_part_out_channels(main, channels, kernel_sizes=DEFAULT_KERNEL_SIZES):
    """Channels that leave a main part of type ``main`` fed ``channels``."""
    return channels * len(kernel_sizes) if main == 'pyramid_concat' else channels


class ResidualBlock(HybridBlock):
    """Pre-activation bottleneck residual block with a pluggable main part.

    Parameters
    ----------
    in_channels : int
        Channels of the block input (``d_in``).
    channels : int
        Channels of the block output (``d_out``).
    stride : int
        Stride of the main part and of the projection shortcut.
    multiplier : float
        Width multiplier alpha; the block uses ``int(multiplier * channels)``
        inner channels.
    main : str
        One of :data:`MAIN_PARTS`: ``'conv'``, ``'depthwise'``,
        ``'pyramid_add'`` or ``'pyramid_concat'``; an unknown name raises
        ValueError.
    kernel_sizes : sequence of int
        Kernel sizes of the pyramid main parts (ignored by the others).
    fast : bool, default False
        See :class:`PyramidDepthwise`.
    """

    def __init__(self, in_channels, channels, stride, multiplier, main, *,
                 kernel_sizes=DEFAULT_KERNEL_SIZES, fast=False, **kwargs):
        super().__init__(**kwargs)
        inner = int(multiplier * channels)
        if inner < 1:
            raise ValueError('multiplier %r leaves no inner channels for a block of %d channels'
                             % (multiplier, channels))
        merged = main_part_out_channels(main, inner, kernel_sizes)
        self.stride = stride
        with self.name_scope():
            self.body = nn.HybridSequential(prefix='')
            self.body.add(batch_norm(in_channels), nn.Activation('relu'),
                          nn.Conv2D(inner, 1, use_bias=False, in_channels=in_channels),
                          batch_norm(inner), nn.Activation('relu'),
                          make_main_part(main, inner, stride, kernel_sizes, fast),
                          batch_norm(merged), nn.Activation('relu'),
                          nn.Conv2D(channels, 1, use_bias=False, in_channels=merged),
                          batch_norm(channels))
            if stride != 1 or in_channels != channels:
                self.shortcut = nn.HybridSequential(prefix='')
                self.shortcut.add(nn.Conv2D(channels, 1, strides=stride, use_bias=False,
                                            in_channels=in_channels),
                                  batch_norm(channels))
            else:
                self.shortcut = None

    # The parts of ``body``, in the order of the forward pass: pre_bn, ReLU, conv_in, bn_in,
    # ReLU, main, bn_main, ReLU, conv_out, bn_out.
    @property
    def pre_bn(self):
        """BatchNorm of the block input (followed by a ReLU)."""
        return self.body[0]

    @property
    def conv_in(self):
        """1x1 convolution ``d_in -> m``."""
        return self.body[2]

    @property
    def bn_in(self):
        """BatchNorm after ``conv_in`` (followed by a ReLU)."""
        return self.body[3]

    @property
    def main(self):
        """The main part: :class:`ConvMain`, :class:`DepthwiseMain` or :class:`PyramidDepthwise`."""
        return self.body[5]

    @property
    def bn_main(self):
        """BatchNorm after the main part (followed by a ReLU)."""
        return self.body[6]

    @property
    def conv_out(self):
        """1x1 convolution to ``d_out`` channels."""
        return self.body[8]

    @property
    def bn_out(self):
        """BatchNorm after ``conv_out``; its output is added to the shortcut."""
        return self.body[9]

    @property
    def shortcut_conv(self):
        """Strided 1x1 convolution of the projection shortcut, or None (identity shortcut)."""
        return self.shortcut[0] if self.shortcut is not None else None

    @property
    def shortcut_bn(self):
        """BatchNorm of the projection shortcut, or None (identity shortcut)."""
        return self.shortcut[1] if self.shortcut is not None else None

    def hybrid_forward(self, F, x):
        residual = self.body(x)
        shortcut = self.shortcut(x) if self.shortcut is not None else x
        return residual + shortcut


@contextlib.contextmanager
def separate_branches(net):
    """Within the ``with`` block, every :class:`PyramidDepthwise` of ``net`` runs its branches
    as separate depthwise convolutions, as the authors' graphs do, instead of the C++ operator
    (``fast=True``); for graph walks such as conversion and FLOP counting."""
    blocks = []

    def collect(block):
        if isinstance(block, PyramidDepthwise):
            blocks.append((block, block.fast))
            block.fast = False
    net.apply(collect)
    try:
        yield net
    finally:
        for block, fast in blocks:
            block.fast = fast
