"""Test-set evaluation: logits, top-1 error, and a guard against mismatched label sets."""
import mxnet as mx
import numpy as np
from tqdm import tqdm

from .data import check_raw_dataset, get_dataset, normalize_images
from .errors import LabelSetMismatchError
from .model_zoo import load_trained

__all__ = ['LabelSetMismatchError', 'predict', 'error_rate', 'evaluate', 'check_label_set',
           'load_for_evaluation']


def check_label_set(net, dataset):
    """Raise :class:`LabelSetMismatchError` if ``net``'s pretrained weights and ``dataset``
    use different label sets (e.g. the authors' coarse CIFAR-100 weights on fine labels)."""
    cfg = getattr(net, 'pretrained_cfg', None)
    if cfg is not None and cfg.label_set != dataset.label_set:
        raise LabelSetMismatchError(
            '%s was loaded with weights that predict %r labels, but the dataset has %r labels%s. '
            'Evaluate on the matching labels, or pass allow_label_mismatch=True to score them '
            'anyway.' % (cfg.model, cfg.label_set, dataset.label_set,
                         ' (the authors\' CIFAR-100 weights predict the 20 coarse superclasses: '
                         'use CIFAR100(label_mode="coarse"))' if cfg.label_set ==
                         'cifar100-coarse' else ''))


def predict(net, images, batch_size=500, ctx=None, progress=False, desc='predict'):
    """Logits of ``net`` on raw images.

    Parameters
    ----------
    net : mxnet.gluon.Block
        Expects normalised NCHW float32 input (``test_transform``); hybridize it
        first for speed.
    images : numpy.ndarray
        ``(N, 32, 32, 3)`` uint8, as in ``dataset.images``.
    batch_size : int
        Images per forward pass.
    ctx : Context, default ``mx.cpu()``
    progress : bool
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        ``(N, classes)`` float32 logits.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError('batch_size must be at least 1, got %r' % (batch_size,))
    ctx = ctx or mx.cpu()
    starts = range(0, len(images), batch_size)
    outs = []
    for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
        x = normalize_images(images[start:start + batch_size], ctx=ctx)
        outs.append(net(x).asnumpy())
    return np.concatenate(outs)


def error_rate(logits, labels):
    """Top-1 error in percent of ``logits`` ``(N, C)`` against integer ``labels`` ``(N,)``.

    A row with a NaN or infinite logit counts as an error (it predicts no class). Labels
    outside ``0 .. C-1`` raise ``ValueError``: the network cannot predict them.
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError('need logits (N, C) and labels (N,) with N >= 1, got %s and %s'
                         % (logits.shape, labels.shape))
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError('labels %d..%d cannot be scored against %d outputs: the network was '
                         'built for another label set' % (labels.min(), labels.max(),
                                                          logits.shape[1]))
    wrong = (logits.argmax(axis=1) != labels) | ~np.isfinite(logits).all(axis=1)
    return 100.0 * float(np.mean(wrong))


def evaluate(net, dataset, batch_size=500, ctx=None, progress=True, allow_label_mismatch=False):
    """Top-1 error (percent) of ``net`` on a :mod:`gluon_pydmn.data` dataset.

    Raises :class:`LabelSetMismatchError` when the network's pretrained
    weights predict another label set than the dataset's, unless
    ``allow_label_mismatch=True``.
    """
    check_raw_dataset(dataset, 'evaluate()')
    if not allow_label_mismatch:
        check_label_set(net, dataset)
    model = getattr(net, 'model_name', None) or getattr(net, 'name', 'net')
    logits = predict(net, dataset.images, batch_size, ctx, progress,
                     desc='%s on %s' % (model, dataset.label_set))
    return error_rate(logits, dataset.labels)


def load_for_evaluation(name, label_set='cifar10', checkpoint_path=None, root=None,
                        data_root=None, ctx=None):
    """Zoo network ``name`` with trained weights for ``label_set`` and that label set's test set.

    The weights are the authors' or your own ``checkpoint_path``
    (:func:`gluon_pydmn.model_zoo.load_trained`); the network is hybridized and checked to
    predict the test set's labels (:func:`check_label_set`).

    Returns
    -------
    (CIFARNet, dataset)
    """
    net = load_trained(name, label_set, checkpoint_path, ctx=ctx, root=root)
    test_set = get_dataset(label_set, train=False, root=data_root)
    check_label_set(net, test_set)
    net.hybridize(static_alloc=True, static_shape=True)
    return net, test_set
