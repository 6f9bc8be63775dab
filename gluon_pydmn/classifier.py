"""What a network's inputs and outputs mean: its input normalisation, its number of outputs,
its class names; and replacing its classifier.

Works for this package's networks and GluonCV's CIFAR networks alike: both end in a dense
layer named ``output``. The number of outputs is always read from that layer, so a head
replaced with :func:`reset_classifier` (timm's name) or GluonCV's ``net.output =
nn.Dense(n)`` counts at once. Class names and the "this head holds pretrained weights" mark
are tied to the head they were set for, and lapse when it is replaced.
"""
import weakref

import mxnet as mx
from mxnet.gluon import nn

from .data import CIFAR_MEAN, CIFAR_STD

__all__ = ['num_outputs', 'reset_classifier', 'class_names', 'set_class_names',
           'mark_pretrained_head', 'head_is_pretrained', 'is_initialized',
           'input_normalization', 'has_input_normalization', 'set_input_normalization']


_HEAD_NAMES = ('output', 'fc')  # GluonCV's residual attention networks end in a 1x1 'fc'


def _output_layer(net, dense=False):
    for attr in _HEAD_NAMES[:1] if dense else _HEAD_NAMES:
        layer = getattr(net, attr, None)
        if isinstance(layer, nn.Dense) or (not dense and isinstance(layer, nn.Conv2D)):
            return layer
    raise TypeError('%s has no %s named output, as this package\'s and GluonCV\'s CIFAR ResNets '
                    'have' % (type(net).__name__, 'dense layer' if dense else 'classifier'))


def num_outputs(net):
    """Outputs of ``net``'s classifier, read from its last layer (``output``, or ``fc`` in
    GluonCV's residual attention networks).

    Raises
    ------
    TypeError
        ``net`` has no such layer.
    """
    return int(_output_layer(net).weight.shape[0])


def is_initialized(net):
    """Whether every parameter of ``net`` is initialised (deferred initialisation, waiting
    for the first input to learn a shape, counts as initialised)."""
    return all(p._data is not None or p._deferred_init  # pylint: disable=protected-access
               for p in net.collect_params().values())


def _head_contexts(net):
    initialised = [p for p in net.collect_params().values() if p._data is not None]
    return initialised[0].list_ctx() if initialised else None


def reset_classifier(net, classes, ctx=None, init=None, names=None):
    """Replace ``net``'s classifier with a new ``classes``-way dense layer, for fine-tuning.

    The same as GluonCV's ``net.output = nn.Dense(classes)``, but the new layer knows its
    input width and, when the rest of the network is initialised, is initialised too (on the
    same devices), so the network runs, trains, deploys and exports at once.

    Parameters
    ----------
    net : CIFARNet or a GluonCV CIFAR network
    classes : int
        Outputs of the new layer.
    ctx : Context or list of Context, optional
        Where to initialise it; default where ``net``'s parameters are.
    init : Initializer, default ``mx.init.Xavier()``
    names : sequence of str, optional
        The class names, in output order (:func:`class_names`).

    Returns
    -------
    mxnet.gluon.nn.Dense
        The new layer (also ``net.output``).
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError('classes must be a whole number of at least 1, got %r' % (classes,))
    in_units = _output_layer(net, dense=True).weight.shape[1]
    with net.name_scope():
        head = nn.Dense(classes, in_units=in_units)
    net.output = head
    contexts = ctx if ctx is not None else _head_contexts(net)
    if contexts is not None:
        head.initialize(init or mx.init.Xavier(), ctx=contexts)
    if names is not None:
        set_class_names(net, names)
    return head


def set_class_names(net, names):
    """Record the class names of ``net``'s current head (one per output, or fewer: outputs
    beyond them have none)."""
    names = tuple(str(n) for n in names)
    if len(names) > num_outputs(net):
        raise ValueError('%d class names for a classifier with %d outputs'
                         % (len(names), num_outputs(net)))
    net._class_names = (names, weakref.ref(net.output))  # pylint: disable=protected-access


def class_names(net):
    """The class names of ``net``'s outputs, or ``None`` if none were recorded for its current
    head (a replaced head has none until :func:`set_class_names`)."""
    names, head = getattr(net, '_class_names', ((), None))
    return names if head is not None and head() is getattr(net, 'output', None) else None


def mark_pretrained_head(net):
    """Record that ``net.output`` holds the weights that ``net.pretrained_cfg`` describes."""
    net._pretrained_head = weakref.ref(net.output)  # pylint: disable=protected-access


def head_is_pretrained(net):
    """Whether ``net``'s classifier is still the one its pretrained weights came with (and so
    predicts ``net.pretrained_cfg.label_set``)."""
    head = getattr(net, '_pretrained_head', None)
    return head is not None and head() is getattr(net, 'output', None)


def input_normalization(net):
    """``(mean, std)`` per channel that ``net``'s inputs are normalised with after scaling to
    0-1: what training recorded (:func:`set_input_normalization`), else its pretrained
    weights', else CIFAR's (:data:`gluon_pydmn.data.CIFAR_MEAN`, ``CIFAR_STD``)."""
    recorded = getattr(net, '_input_normalization', None)
    if recorded is not None:
        return recorded
    cfg = getattr(net, 'pretrained_cfg', None)
    return (tuple(cfg.mean), tuple(cfg.std)) if cfg is not None else (CIFAR_MEAN, CIFAR_STD)


def has_input_normalization(net):
    """Whether ``net`` has its own normalisation (recorded, or its pretrained weights')."""
    return (getattr(net, '_input_normalization', None) is not None
            or getattr(net, 'pretrained_cfg', None) is not None)


def set_input_normalization(net, mean, std):
    """Record the ``mean`` and ``std`` (3 values each, for 0-1 pixels) ``net`` expects."""
    mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError('need 3 means and 3 positive standard deviations, got %r and %r'
                         % (mean, std))
    net._input_normalization = (mean, std)  # pylint: disable=protected-access
