"""The CIFAR networks of Table 1: Net-29 and Net-56 with any block type and width.

Layout (as in the authors' released graphs)::

    stem:   BatchNorm(scale=False, center=False) on the normalised input,
            3x3 conv 3 -> 32 (no bias)
    stages: 3 stages of n residual blocks at 32, 64, 128 channels; the first
            block of stages 2 and 3 has stride 2.  depth = 9 n + 2
            (Net-29: n = 3, Net-56: n = 6)
    head:   global average pooling, dense layer to ``classes``

There is no BN/ReLU between the last block and the pooling.

:class:`CIFARNet` names its parts (``stem_bn``, ``stem_conv``, ``stages()``, ``blocks()``,
``pool``, ``output``); the first five are views of its child ``features``, whose order fixes
the parameter names that converted weights and training checkpoints are saved under.
"""
import warnings

import numpy as np
from mxnet import autograd
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from . import classifier
from .blocks import DEFAULT_KERNEL_SIZES, MAIN_PARTS, ResidualBlock, batch_norm
from .errors import NotInitializedError

__all__ = ['CIFARNet', 'STAGE_CHANNELS', 'STEM_CHANNELS', 'blocks_per_stage', 'check_input',
           'recheck_input_values']

STEM_CHANNELS = 32
STAGE_CHANNELS = (32, 64, 128)


def blocks_per_stage(depth):
    """Number of residual blocks per stage for a network of ``depth`` layers.

    Each block holds three convolutions; the stem convolution and the dense
    layer add two, so ``depth = 9 n + 2``.
    """
    if not isinstance(depth, int) or depth < 11 or (depth - 2) % 9:
        raise ValueError('depth must be 9n + 2 for a whole n >= 1 (e.g. 29 or 56), got %r'
                         % (depth,))
    return (depth - 2) // 9


def check_input(net, x, dtype='float32'):
    """Refuse NDArray input that is not a non-empty batch of RGB images (N, 3, H, W) of the
    network's ``dtype`` (float32 unless it was cast), before MXNet's own, less telling errors
    (symbols pass: their shapes are not known yet). At inference also refuse raw 0-255 pixels,
    until one batch has passed, and warn once per image size other than 32x32."""
    shape = getattr(x, 'shape', None)
    if shape is None:
        return
    if len(shape) != 4 or shape[1] != 3:
        raise ValueError('%s expects a batch of RGB images shaped (N, 3, H, W), e.g. '
                         '(N, 3, 32, 32) after ToTensor/Normalize; got %s'
                         % (type(net).__name__, tuple(shape)))
    if shape[0] == 0:
        raise ValueError('%s got an empty batch (0 images)' % type(net).__name__)
    if np.dtype(x.dtype) != np.dtype(dtype):
        raise TypeError('%s expects %s images normalised with the CIFAR mean and std '
                        '(gluon_pydmn.data.normalize_images or test_transform); got %s'
                        % (type(net).__name__, np.dtype(dtype).name, np.dtype(x.dtype).name))
    if not autograd.is_recording():
        _check_inference_input(net, x)


#: Normalised CIFAR pixels lie within about -2.5..2.8; raw 0-255 values reach far beyond.
_RAW_PIXELS = 20.0


def _check_inference_input(net, x):
    """At inference, refuse raw 0-255 pixels and warn once per image size other than 32x32.

    The values are looked at until one batch passes: the look waits for the data (a
    synchronisation), and a wrong preprocessing shows in the first batch already, so a network
    in steady use (timing, serving) pays nothing."""
    if not getattr(net, '_values_checked', False):
        _refuse_raw_pixels(net, x)
        net._values_checked = True
    size = tuple(x.shape[2:])
    if size != (32, 32) and size not in getattr(net, '_sizes_warned', set()):
        warnings.warn('%s was built for 32x32 CIFAR images and got %dx%d: it runs (global '
                      'pooling), but its weights have not seen this size; resize the images to '
                      '32x32 (gluon_pydmn.image_folder.load_image_files does)'
                      % (type(net).__name__, size[0], size[1]), stacklevel=4)
        net._sizes_warned = getattr(net, '_sizes_warned', set()) | {size}


def recheck_input_values(net):
    """Have ``net`` look at the values of its inference batches again until one passes
    (:func:`check_input`)."""
    net._values_checked = False


def _refuse_raw_pixels(net, x):
    peak = float(x.abs().max().asscalar())
    if peak > _RAW_PIXELS:
        raise ValueError('%s got values up to %g: these look like raw 0-255 pixels; scale and '
                         'normalise them first (gluon_pydmn.data.normalize_images(uint8 images), '
                         'or test_transform())' % (type(net).__name__, peak))


class CIFARNet(HybridBlock):
    """PydMobileNet-style CIFAR network (Table 1 of the paper).

    Parameters
    ----------
    main : str
        Main part of every block: ``'conv'`` (ResNet), ``'depthwise'``
        (MobileNet), ``'pyramid_add'`` or ``'pyramid_concat'`` (PydMobileNet).
    depth : int
        ``9 n + 2``: 29 or 56 in the paper.
    multiplier : float
        Width multiplier alpha.
    classes : int, default 10
        Outputs of the dense layer.
    kernel_sizes : sequence of int, default (3, 5, 7)
        Kernel sizes of the pyramid main parts.
    fast : bool, default False
        Run each pyramid as one C++ operator (same parameters, function and gradients,
        faster to train on CPU; see :class:`~gluon_pydmn.blocks.PyramidDepthwise`).

    Input: ``(N, 3, 32, 32)`` float32 images, ``ToTensor`` then ``Normalize``
    with the CIFAR mean/std of :data:`gluon_pydmn.data.CIFAR_MEAN` /
    :data:`gluon_pydmn.data.CIFAR_STD`.
    """

    def __init__(self, main, depth, multiplier, classes=10, kernel_sizes=DEFAULT_KERNEL_SIZES,
                 fast=False, **kwargs):
        super().__init__(**kwargs)
        if main not in MAIN_PARTS:
            raise ValueError('unknown main part %r; choose one of %s' % (main, ', '.join(MAIN_PARTS)))
        n = blocks_per_stage(depth)
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise ValueError('classes (outputs of the dense layer) must be a whole number of at '
                             'least 1, got %r' % (classes,))
        self.main, self.depth, self.multiplier = main, depth, multiplier
        self.kernel_sizes = tuple(kernel_sizes)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix='')
            self.features.add(batch_norm(3, scale=False, center=False),
                              nn.Conv2D(STEM_CHANNELS, 3, padding=1, use_bias=False, in_channels=3))
            in_channels = STEM_CHANNELS
            for stage, channels in enumerate(STAGE_CHANNELS):
                blocks = nn.HybridSequential(prefix='stage%d_' % (stage + 1))
                with blocks.name_scope():
                    for i in range(n):
                        stride = 2 if stage > 0 and i == 0 else 1
                        blocks.add(ResidualBlock(in_channels, channels, stride, multiplier, main,
                                                 kernel_sizes=kernel_sizes, fast=fast))
                        in_channels = channels
                self.features.add(blocks)
            self.features.add(nn.GlobalAvgPool2D())
            self.output = nn.Dense(classes, in_units=in_channels)

    @property
    def classes(self):
        """Outputs of the classifier, read from the ``output`` layer (so a head replaced by
        :meth:`reset_classifier` or by ``net.output = nn.Dense(n)`` counts)."""
        return classifier.num_outputs(self)

    @property
    def class_names(self):
        """Names of the outputs (from the pretrained weights, the run folder or
        :meth:`reset_classifier`), or ``None``."""
        return classifier.class_names(self)

    def reset_classifier(self, classes, ctx=None, init=None, names=None):
        """Replace the classifier with a new ``classes``-way dense layer, for fine-tuning
        (timm's name; :func:`gluon_pydmn.classifier.reset_classifier`)."""
        return classifier.reset_classifier(self, classes, ctx=ctx, init=init, names=names)

    @property
    def stem_bn(self):
        """The fixed BatchNorm of the input (``scale=False, center=False``)."""
        return self.features[0]

    @property
    def stem_conv(self):
        """The 3x3 stem convolution 3 -> 32."""
        return self.features[1]

    def stages(self):
        """The three stages, each a sequence of :class:`~gluon_pydmn.blocks.ResidualBlock`."""
        return list(self.features)[2:-1]

    def blocks(self):
        """All residual blocks, in order."""
        return [block for stage in self.stages() for block in stage]

    @property
    def pool(self):
        """The global average pooling before ``output``."""
        return self.features[-1]

    def forward(self, x, *args):
        check_input(self, x, self.stem_conv.weight.dtype)
        try:
            return super().forward(x, *args)
        except RuntimeError:
            if not classifier.is_initialized(self):
                raise NotInitializedError(
                    'the network has no weights yet: initialise it with '
                    'net.initialize(mx.init.Xavier(), ctx=ctx) (the paper\'s initialisation), or '
                    'load weights with get_model(name, pretrained=True) or '
                    'checkpoint_path=') from None
            raise

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))
