"""How trained weights fit and how sure they are: the signature that tells a network trained
with mixup from one trained without.

Mixup trains on blends of two images with blended labels, so a network trained with it
answers a 50/50 blend of two test images with about half of each class (a loss near
``ln 2 = 0.69``) and is rarely near-certain on a clean image; a network trained on clean
images only is near-certain on most clean images and picks one side of a blend (a loss of
several nats). ``gluon-pydmn signature`` puts the authors' released
weights and our training runs side by side in ``results/signature.md``.

The squared norm of the weights (:func:`weight_norms`) is a signature of the schema rather
than of the predictions: with BatchNorm after every convolution, weight decay and the
gradient steps pull the weights' norm to a balance set by the learning rate, the weight decay
and the length of training, so two networks trained with the same schema end with about the
same norms, whatever their seeds.
"""
import numpy as np

from ..catalog import display_name
from ..evaluate import error_rate, predict

__all__ = ['prediction_signature', 'weight_norms', 'blend_pairs', 'signature_markdown', 'COLUMNS']

#: (key, column heading) of a signature row, in table order
COLUMNS = (('test_error', 'test error (%)'), ('train_error', 'training-set error (%)'),
           ('test_nll', 'test loss (nats)'), ('confidence', 'mean top probability'),
           ('sure_share', 'test images >0.99 sure (%)'), ('blend_loss', '50/50 blend loss (nats)'),
           ('weight_sq', 'squared weights, conv and dense'),
           ('gamma_sq', 'squared BatchNorm scales'))


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def blend_pairs(images, labels, pairs):
    """50/50 pixel blends of consecutive images ``(i, i + 1)`` whose labels differ.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        The blended uint8 images ``(n, H, W, C)`` (at most ``pairs``) and the two labels of
        each blend.
    """
    first = np.flatnonzero(labels[:-1] != labels[1:])[:pairs]
    blended = (images[first].astype(np.float32) + images[first + 1]) / 2
    return np.rint(blended).astype(np.uint8), labels[first], labels[first + 1]


def prediction_signature(net, test_set, train_set=None, *, pairs=2000, batch_size=500, ctx=None,
                         progress=False):
    """The fit and confidence of ``net`` on :mod:`gluon_pydmn.data` datasets.

    Parameters
    ----------
    net : Block
        A trained network for the datasets' label set.
    test_set, train_set : datasets of :mod:`gluon_pydmn.data`
        The training set is read without augmentation; leave it out to skip the
        training-set error.
    pairs : int
        Number of 50/50 blends of test images (consecutive images with different labels).
    progress : bool
        Progress bars while predicting.

    Returns
    -------
    dict
        ``test_error`` and ``train_error`` (top-1, percent; ``train_error`` None without a
        training set), ``test_nll`` (mean cross-entropy on the test set, nats),
        ``confidence`` (mean top softmax probability on the test set), ``sure_share``
        (percent of test images with a top probability above 0.99) and ``blend_loss``
        (mean cross-entropy of the blends against half of each label, nats).
    """
    logits = predict(net, test_set.images, batch_size, ctx, progress, 'test set')
    labels = np.asarray(test_set.labels)
    prob = _softmax(logits.astype(np.float64))
    top = prob.max(axis=1)
    blended, first, second = blend_pairs(test_set.images, labels, pairs)
    blend = _softmax(predict(net, blended, batch_size, ctx, progress, 'blends').astype(np.float64))
    rows = np.arange(len(first))
    tiny = np.finfo(np.float64).tiny  # a probability that underflowed to 0 costs ~708 nats
    return {
        'test_error': error_rate(logits, labels),
        'train_error': (error_rate(predict(net, train_set.images, batch_size, ctx, progress,
                                           'training set'), train_set.labels)
                        if train_set is not None else None),
        'test_nll': float(-np.log(np.maximum(prob[np.arange(len(labels)), labels], tiny)).mean()),
        'confidence': float(top.mean()),
        'sure_share': float(100 * (top > 0.99).mean()),
        'blend_loss': float(-0.5 * (np.log(np.maximum(blend[rows, first], tiny)) +
                                    np.log(np.maximum(blend[rows, second], tiny))).mean()),
    }


def weight_norms(net):
    """Squared L2 norms of a network's convolution and dense weights and BatchNorm scales.

    Parameters
    ----------
    net : Block
        A network with initialised parameters.

    Returns
    -------
    dict
        ``weight_sq``: the sum of squares of every ``*_weight`` parameter (convolution and
        dense kernels; no biases); ``gamma_sq``: that of every BatchNorm ``*_gamma``. Both
        are sums over the whole network, in float64.
    """
    sums = {'weight_sq': 0.0, 'gamma_sq': 0.0}
    for name, param in net.collect_params().items():
        key = ('weight_sq' if name.endswith('_weight') else
               'gamma_sq' if name.endswith('_gamma') else None)
        if key is not None:
            sums[key] += float(np.square(param.data().asnumpy().astype(np.float64)).sum())
    return sums


def _cell(key, value):
    if value is None:
        return ''
    if key in ('weight_sq', 'gamma_sq'):
        return '%.1f' % value
    return ('%.3f' if key in ('test_nll', 'confidence', 'blend_loss') else '%.2f') % value


def signature_markdown(rows, command, intro=''):
    """``results/signature.md``: one table row per set of weights.

    Parameters
    ----------
    rows : list of dict
        ``model``, ``label_set``, ``weights`` (where they come from), ``training`` (how they
        were trained) and the keys of :data:`COLUMNS`; ``caveat`` (optional): the
        :class:`~gluon_pydmn.run_folder.Caveat` of the weights' epoch in their run (marked,
        with its note).
    command : str
        The command that generated the file.
    """
    head = ['network', 'data', 'weights', 'training'] + [title for _, title in COLUMNS]
    lines = ['# Fit and confidence of trained weights', '',
             'Generated by `%s`; do not edit by hand. %s' % (command, intro), '',
             '| %s |' % ' | '.join(head), '|%s|' % '|'.join(['---'] * 4 + ['---:'] * len(COLUMNS))]
    notes = {}
    for row in rows:
        caveat = row.get('caveat')
        if caveat is not None:
            notes[caveat.mark] = caveat.note()
        weights = row['weights'] + (caveat.mark if caveat is not None else '')
        cells = [display_name(row['model']), row['label_set'], weights, row['training']]
        cells += [_cell(key, row[key]) for key, _ in COLUMNS]
        lines.append('| %s |' % ' | '.join(cells))
    lines += ['', '\n'.join('%s The weights are of an epoch with a caveat in their run: %s'
                             % item for item in sorted(notes.items()))] if notes else []
    return '\n'.join(lines) + '\n'
