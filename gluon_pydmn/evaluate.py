"""Test-set evaluation: logits, top-1 error, and a guard against mismatched label sets."""
import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import nn
from tqdm import tqdm

from .classifier import class_names, head_is_pretrained, input_normalization
from .data import augmented_batch, check_raw_dataset, get_dataset, normalize_images
from .catalog import LABEL_SETS
from .errors import LabelSetMismatchError, UnknownNameError
from .model_zoo import load_trained
from .utils import context_list

__all__ = ['LabelSetMismatchError', 'predict', 'classify', 'error_rate', 'evaluate',
           'check_label_set', 'trained_on', 'load_for_evaluation', 'recompute_batchnorm']


def check_label_set(net, dataset):
    """Raise :class:`LabelSetMismatchError` if ``net``'s pretrained weights and ``dataset``
    use different label sets (e.g. the authors' coarse CIFAR-100 weights on fine labels). A
    network whose classifier was replaced for fine-tuning passes."""
    cfg = getattr(net, 'pretrained_cfg', None)
    if cfg is not None and head_is_pretrained(net) and cfg.label_set != dataset.label_set:
        raise LabelSetMismatchError(
            '%s was loaded with weights that predict %r labels, but the dataset has %r labels%s. '
            'Evaluate on the matching labels, or pass allow_label_mismatch=True to score them '
            'anyway.' % (cfg.model, cfg.label_set, dataset.label_set,
                         ' (the authors\' CIFAR-100 weights predict the 20 coarse superclasses: '
                         'use CIFAR100(label_mode="coarse"))' if cfg.label_set ==
                         'cifar100-coarse' else ''))


def predict(net, images, batch_size=500, ctx=None, progress=False, desc='predict', *,
            normalization=None):
    """Logits of ``net`` on raw images.

    Parameters
    ----------
    net : mxnet.gluon.Block
        Expects normalised NCHW float32 input; hybridize it first for speed.
    images : numpy.ndarray
        ``(N, 32, 32, 3)`` uint8, as in ``dataset.images``.
    batch_size : int
        Images per forward pass.
    ctx : Context, default ``mx.cpu()``
    progress : bool
        Show a progress bar.
    normalization : (mean, std), optional
        Default ``net``'s own (:func:`gluon_pydmn.classifier.input_normalization`: its
        training's, its pretrained weights' or CIFAR's).

    Returns
    -------
    numpy.ndarray
        ``(N, classes)`` float32 logits.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError('batch_size must be at least 1, got %r' % (batch_size,))
    ctx = context_list(ctx)[0]  # a GPU this MXNet cannot use: the package's one error
    starts = range(0, len(images), batch_size)
    mean, std = normalization or input_normalization(net)
    outs = []
    for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
        x = normalize_images(images[start:start + batch_size], mean, std, ctx=ctx)
        outs.append(net(x).asnumpy())
    return np.concatenate(outs)


def classify(net, images, top_k=1, batch_size=500, ctx=None):
    """The ``top_k`` most probable classes of each raw image, with their names.

    Parameters
    ----------
    net : mxnet.gluon.Block
        A trained network; its class names (:func:`gluon_pydmn.classifier.class_names`) name
        the classes where it has them.
    images : numpy.ndarray
        ``(N, 32, 32, 3)`` uint8, e.g. from
        :func:`gluon_pydmn.image_folder.load_image_files`.
    top_k : int
    batch_size, ctx
        As for :func:`predict`.

    Returns
    -------
    list of list of (int, str or None, float)
        For each image, ``(class index, class name, softmax probability)`` from the most
        probable down.
    """
    logits = predict(net, images, batch_size, ctx)
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = class_names(net) or ()
    top_k = max(1, min(int(top_k), probs.shape[1]))
    return [[(int(c), names[c] if c < len(names) else None, float(row[c]))
             for c in np.argsort(-row, kind='stable')[:top_k]] for row in probs]


def recompute_batchnorm(net, images, *, batch_size=128, augment=True, seed=0, ctx=None,
                        progress=False):
    """Set every BatchNorm's running mean and variance to the exact average of its batch
    statistics over ``images`` ("precise BN"), in place.

    Training keeps an exponential moving average of the last few hundred batches; this
    replaces it with the plain average over the given images, batched and augmented as in
    training. Weights whose statistics are right hardly change (for PydMobileNet-Concat-29-0.25
    on CIFAR-10, 12,800 images move ours from 8.32% to 8.31% test error and the authors' from
    7.33% to 7.27%: ``gluon-pydmn evaluate --recompute-bn 12800``); weights whose input
    BatchNorm was never updated (:class:`~gluon_pydmn.model_zoo.StaleInputBatchNormWarning`)
    are repaired.
    Gradients are computed (MXNet's CPU BatchNorm updates its statistics in the backward
    pass) but no weight changes.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        Hybridized or not.
    images : numpy.ndarray
        ``(N, 32, 32, 3)`` uint8 training images, as in ``dataset.images``; pass a random
        subset (a few hundred batches are plenty).
    batch_size : int, default 128
        As in training: the statistics are per batch.
    augment : bool, default True
        Random crop with 4-pixel zero padding and flip, as in training. Without it the
        statistics describe un-padded images, unlike every batch the network was trained on,
        and the test error rises.
    seed : int
        Seeds the augmentation.
    ctx : Context, default ``mx.cpu()``
    progress : bool
        Show a progress bar.

    Returns
    -------
    int
        The number of BatchNorm layers recomputed.
    """
    if not isinstance(batch_size, int) or not 1 < batch_size:
        raise ValueError('batch_size must be at least 2 (a batch variance needs two images), '
                         'got %r' % (batch_size,))
    images = np.asarray(images)
    if len(images) < batch_size:
        raise ValueError('need at least one batch of %d images, got %d' % (batch_size,
                                                                           len(images)))
    ctx = context_list(ctx)[0]  # a GPU this MXNet cannot use: the package's one error
    layers = []
    net.apply(lambda block: layers.append(block) if isinstance(block, nn.BatchNorm) else None)
    if not layers:
        raise ValueError('%s has no BatchNorm layer' % type(net).__name__)
    frozen = [b.name for b in layers if b._kwargs.get('use_global_stats')]
    if frozen:
        raise ValueError('BatchNorm layers with use_global_stats=True never update their '
                         'statistics: %s' % ', '.join(frozen))
    rng = np.random.RandomState(seed)
    mean, std = input_normalization(net)
    sums = [[0, 0] for _ in layers]
    starts = range(0, len(images) - batch_size + 1, batch_size)
    for start in tqdm(starts, desc='recompute BatchNorm', disable=not progress, leave=False):
        batch = images[start:start + batch_size]
        x = (augmented_batch(batch, rng, ctx, mean, std) if augment else
             normalize_images(batch, mean, std, ctx=ctx))
        x.attach_grad()  # gives the input BatchNorm its backward pass, as in train()
        # With running statistics zeroed first, the layer's update leaves (1 - momentum)
        # times this batch's statistics: that recovers them whatever the layer's momentum
        # and whether or not the network is hybridized.
        for layer in layers:
            layer.running_mean.set_data(mx.nd.zeros_like(layer.running_mean.data(ctx)))
            layer.running_var.set_data(mx.nd.zeros_like(layer.running_var.data(ctx)))
        with autograd.record(train_mode=True):
            out = net(x)
        out.backward()
        # A static_alloc graph's backward writes the statistics outside the engine's view of
        # these arrays: without the wait, the reads below race it (hybridized nets came out
        # 11 points worse).
        mx.nd.waitall()
        for layer, acc in zip(layers, sums):
            keep = 1.0 - layer._kwargs['momentum']
            acc[0] = acc[0] + layer.running_mean.data(ctx) / keep
            acc[1] = acc[1] + layer.running_var.data(ctx) / keep
    for layer, (mean, var) in zip(layers, sums):
        layer.running_mean.set_data(mean / len(starts))
        layer.running_var.set_data(var / len(starts))
    return len(layers)


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
    ctx = context_list(ctx)[0]
    check_raw_dataset(dataset, 'evaluate()')
    if not allow_label_mismatch:
        check_label_set(net, dataset)
    model = getattr(net, 'model_name', None) or getattr(net, 'name', 'net')
    logits = predict(net, dataset.images, batch_size, ctx, progress,
                     desc='%s on %s' % (model, dataset.label_set))
    return error_rate(logits, dataset.labels)


def trained_on(name=None, label_set=None, checkpoint_path=None):
    """``(name, label_set)`` completed from the run folder holding ``checkpoint_path``: a
    ``None`` takes what its ``run.json`` records; without one ``label_set`` is ``'cifar10'``.

    Raises
    ------
    UnknownNameError
        ``name`` is None and ``checkpoint_path`` is not in a run folder of a CIFAR label set.
    """
    from .run_folder import record_beside  # run_folder imports the schema, not the zoo
    record = record_beside(checkpoint_path) if checkpoint_path else None
    if record is not None and record['label_set'] not in LABEL_SETS:
        record = None  # trained on an image folder: its test set is not a CIFAR one
    if name is None:
        if record is None:
            raise UnknownNameError('which network? give its zoo name (--model NAME), or a '
                                   'checkpoint in a run folder of a CIFAR training run, whose '
                                   'run.json names it')
        name = record['model']
    if label_set is None:
        label_set = record['label_set'] if record is not None else 'cifar10'
    return name, label_set


def load_for_evaluation(name=None, label_set=None, checkpoint_path=None, root=None,
                        data_root=None, ctx=None):
    """Zoo network ``name`` with trained weights for ``label_set`` and that label set's test set.

    The weights are the authors' or your own ``checkpoint_path``
    (:func:`gluon_pydmn.model_zoo.load_trained`); a ``name`` or ``label_set`` left None is
    the one the checkpoint's run folder records (:func:`trained_on`). The network is
    hybridized and checked to predict the test set's labels (:func:`check_label_set`).

    Returns
    -------
    (CIFARNet, dataset)
    """
    name, label_set = trained_on(name, label_set, checkpoint_path)
    net = load_trained(name, label_set, checkpoint_path, ctx=ctx, root=root)
    test_set = get_dataset(label_set, train=False, root=data_root)
    check_label_set(net, test_set)
    net.hybridize(static_alloc=True, static_shape=True)
    return net, test_set
