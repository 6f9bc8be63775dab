"""Training with the paper's schema (:class:`~gluon_pydmn.schema.TrainConfig`), checkpointed
after every epoch and resumable.

The loop: Nesterov momentum SGD on Xavier-initialised networks, random 4-pixel-pad crops and
horizontal flips, and mixup (each batch mixed with its own reverse, soft-label cross-entropy)
except in the schema's last epochs. :func:`train` writes a run folder
(:mod:`gluon_pydmn.run_folder`) after every epoch, so an interrupted run resumes from its last
finished epoch. Each epoch draws its shuffling, augmentation
(:func:`gluon_pydmn.data.random_crop_flip`, the batched form of ``train_transform``) and
mixup from one generator seeded by ``(config.seed, epoch)``, so a resumed run sees the data
of the uninterrupted one.
"""
import math
import os
import time
import warnings

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from tqdm import tqdm

from .data import augmented_batch, check_raw_dataset
from .evaluate import error_rate, predict
from .errors import (CheckpointError, CheckpointMismatchError, ConfigError, RunFolderBusyError,
                     RunFolderNotWritableError, TrainingDivergedError)
from .machine import machine_info, machine_line
from .run_folder import (Checkpoint, RunFolderLock, check_writable, is_final,
                         stale_input_batchnorm, write_history, write_run_info)
from .schema import TrainConfig
from .utils import context_list

__all__ = ['TrainConfig', 'mixup', 'train', 'CheckpointMismatchError', 'CheckpointError',
           'TrainingDivergedError', 'RunFolderBusyError', 'RunFolderNotWritableError']


def mixup(x, label, classes, lam):
    """Mix a batch with its own reverse, as in the authors' notebook and GluonCV's script.

    Returns ``lam * x + (1 - lam) * reversed(x)`` and the soft labels mixed the same way
    (one-hot labels when ``lam == 1``).
    """
    onehot = nd.one_hot(label, classes)
    return (lam * x + (1 - lam) * nd.flip(x, axis=0),
            lam * onehot + (1 - lam) * nd.flip(onehot, axis=0))


def _epoch_rng(seed, epoch):
    return np.random.RandomState((seed * 1000003 + epoch) % (2 ** 32))


def _batches(dataset, batch_size, rng, ctx):
    """Shuffled, augmented, normalised training batches; the last partial batch is dropped."""
    order = rng.permutation(len(dataset))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]
        yield (augmented_batch(dataset.images[idx], rng, ctx=ctx),
               nd.array(dataset.labels[idx], ctx=ctx))


def _architecture(net):
    """What a checkpoint must match: every parameter's name and shape."""
    return {name: list(p.shape) for name, p in net._collect_params_with_prefix().items()}


class _EvaluationCopy:
    """The network's graph with its own copy of the weights, for the test after each epoch.

    MKL-DNN's inference path reorders a network's weights in place, asynchronously. Testing
    the training network itself made every epoch after a test differ from the same epoch of a
    resumed run (by up to 1e-2 in the weights after one epoch at lr 0.1); a resumed run never
    tested the network it trains. Testing a copy keeps training identical whether or not it
    was interrupted.
    """

    def __init__(self, net, ctx):
        data = mx.sym.var('data')
        with warnings.catch_warnings():  # "cannot decide type for data": it is float32
            warnings.simplefilter('ignore', UserWarning)
            self.net = gluon.SymbolBlock(net(data), data)
        self.net.initialize(ctx=ctx)
        self.net.hybridize(static_alloc=True, static_shape=True)
        self.ctx = ctx

    def refresh(self, net):
        """Copy ``net``'s current parameters (and BatchNorm statistics) into the copy."""
        source = net.collect_params()
        for name, param in self.net.collect_params().items():
            param.set_data(source[name].data(self.ctx).copy())
        return self.net


def _average_running_statistics(net):
    """Give every device the mean of the devices' BatchNorm running statistics (the values
    ``save_parameters`` writes); nothing changes on a single device."""
    for param in net.collect_params().values():
        copies = param.list_data()
        if param.grad_req == 'null' and len(copies) > 1:
            mean = nd.add_n(*[c.as_in_context(copies[0].context) for c in copies]) / len(copies)
            param.set_data(mean)


def train(net, train_set, test_set, out_dir, config=None, ctx=None, stop_after=None,
          progress=True, log=print, model_name=None, on_epoch_end=None):
    """Train ``net`` with ``config``'s schema, checkpointing into ``out_dir`` every epoch.

    Parameters
    ----------
    net : CIFARNet
        Initialised (e.g. ``get_model(name, classes=...)`` or ``get_cifar_net(...)``); it is
        hybridized here. With ``fast=True`` (CPU) the pyramids train as one C++ operator each.
    train_set, test_set : datasets of :mod:`gluon_pydmn.data`
        Raw ``(32, 32, 3)`` uint8 images (``.images``) with integer labels (``.labels``);
        the training images get the paper's augmentation. The test error is measured after
        every epoch.
    out_dir : str
        Run folder: ``state.json``, the last epoch's ``.params``/``.states``, ``history.csv``,
        ``history.png`` and, when done, ``final.params``. If it already holds a checkpoint of
        the same network and schema, training resumes after its last epoch.
    config : TrainConfig, default the paper's schema
    ctx : Context or list of Context, default ``mx.cpu()``
        ``net``'s parameters are moved there. With several, each batch is split across them
        (``gluon.utils.split_and_load``, as in GluonCV's CIFAR scripts; each device's BatchNorm
        normalises its share), and after every epoch the BatchNorm running statistics are
        averaged over the devices, as saving them does, so the test error is the saved
        network's.
    stop_after : int, optional
        Stop after this many epochs in this call (resume later by calling again).
    model_name : str, optional
        Recorded in ``state.json``.
    on_epoch_end : callable, optional
        Called with the history (as returned) after each epoch's checkpoint is written, e.g.
        to refresh a report, so that an interrupted run leaves one that is up to date.

    Returns
    -------
    list of dict
        One row per finished epoch (all of them, also those of earlier calls): ``epoch``
        (1-based), ``lr`` (the optimizer's), ``mixup`` (whether batches were mixed),
        ``train_loss``, ``test_error`` (percent), ``seconds``, ``stale_input_bn`` (whether
        the test ran with the input BatchNorm's initial statistics: only epochs of checkpoints
        written before that fix, see :func:`~gluon_pydmn.run_folder.stale_input_batchnorm`),
        ``machine`` (:func:`~gluon_pydmn.machine.machine_line` of the machine whose wall time
        ``seconds`` is; absent from epochs trained before it was recorded).
    """
    config = config or TrainConfig()
    contexts = context_list(ctx)
    if config.batch_size % len(contexts):
        raise ConfigError('batch size %d does not split evenly across %d devices'
                         % (config.batch_size, len(contexts)))
    classes = getattr(net, 'classes', None)
    if not isinstance(classes, int):
        raise TypeError('train() needs net.classes, the number of outputs of %s'
                        % type(net).__name__)
    for dataset in (train_set, test_set):
        check_raw_dataset(dataset, 'train()')
    _check_labels(classes, train=train_set, test=test_set)
    steps = len(train_set) // config.batch_size
    if steps == 0:
        raise ConfigError('the training set (%d images) is smaller than one batch of %d'
                         % (len(train_set), config.batch_size))
    run = {'model': model_name, 'label_set': getattr(train_set, 'label_set', None),
           'train_images': len(train_set), 'architecture': _architecture(net)}
    os.makedirs(out_dir, exist_ok=True)
    with RunFolderLock(out_dir):
        return _train(net, train_set, test_set, out_dir, config, contexts, classes, steps, run,
                      stop_after, progress, log, on_epoch_end)


def _check_labels(classes, **datasets):
    """Refuse labels that a network with ``classes`` outputs cannot predict."""
    for role, dataset in datasets.items():
        labels = np.asarray(dataset.labels)
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            raise ConfigError(
                'the %s set (%s) has labels %d..%d, but the network has %d outputs: build it with '
                'classes=%d (e.g. get_model(name, classes=%d)) or use the label set it was built for'
                % (role, getattr(dataset, 'label_set', type(dataset).__name__), labels.min(),
                   labels.max(), classes, labels.max() + 1, labels.max() + 1))



def _train(net, train_set, test_set, out_dir, config, contexts, classes, steps, run, stop_after,
           progress, log, on_epoch_end):
    checkpoint = Checkpoint(out_dir)
    state = checkpoint.load(config, run)
    if state is not None and is_final(state, config, out_dir):
        log('%s is finished (%d of %d epochs): nothing to do' % (out_dir, state['epoch'],
                                                                 config.epochs))
        return state['history']
    check_writable(out_dir)
    net.collect_params().reset_ctx(contexts)
    trainer = gluon.Trainer(net.collect_params(), config.optimizer,
                            {'learning_rate': config.learning_rate, 'momentum': config.momentum,
                             'wd': config.weight_decay})
    if state is not None:
        checkpoint.restore(net, trainer, state, contexts)
        log('resuming %s after epoch %d of %d' % (out_dir, state['epoch'], config.epochs))
        if state['history'] and 'stale_input_bn' not in state['history'][0]:
            # a checkpoint from before the input BatchNorm fix (see the loop below)
            stale = stale_input_batchnorm(os.path.join(out_dir, state['params']))
            state['history'] = [dict(r, stale_input_bn=stale) for r in state['history']]
    else:
        state = dict(run, config=config.to_dict(), epoch=0, history=[])
    state.update(label_set=run['label_set'], train_images=run['train_images'])
    write_run_info(out_dir, net, run, config)
    title = '%s: %s' % (run['model'] or type(net).__name__, config.describe())
    net.hybridize(static_alloc=True, static_shape=True)
    tester = _EvaluationCopy(net, contexts[0])
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    machine = machine_line(dict(machine_info(contexts[0], onnx=False),
                                ctx=', '.join(str(c) for c in contexts)))
    first = state['epoch']
    last = config.epochs if stop_after is None else min(config.epochs, first + stop_after)
    for epoch in range(first, last):
        start = time.time()
        rng = _epoch_rng(config.seed, epoch)
        lr, use_mixup = config.learning_rate_at(epoch), config.mixup_at(epoch)
        trainer.set_learning_rate(lr)
        mixed = False  # whether a batch of this epoch was actually mixed
        total = 0.0
        bar = tqdm(_batches(train_set, config.batch_size, rng, contexts[0]), total=steps,
                   desc='epoch %d/%d' % (epoch + 1, config.epochs), disable=not progress,
                   leave=False)
        for i, (x, y) in enumerate(bar):
            lam = rng.beta(config.mixup_alpha, config.mixup_alpha) if use_mixup else 1.0
            mixed = mixed or bool(lam < 1)
            x, soft = mixup(x, y, classes, lam)
            xs, softs = (gluon.utils.split_and_load(a, contexts) for a in (x, soft))
            for xi in xs:
                # MXNet's CPU BatchNorm updates its running statistics in the backward pass
                # (apache/mxnet#18673). The input BatchNorm (no gamma or beta, data without
                # gradient) gets none, so it kept its initial 0/1 and every test ran on
                # mis-scaled inputs. A gradient on the input gives it its backward pass.
                xi.attach_grad()
            with autograd.record():
                losses = [loss_fn(net(xi), si) for xi, si in zip(xs, softs)]
            autograd.backward(losses)
            trainer.step(config.batch_size)
            total += sum(float(l.sum().asscalar()) for l in losses) / config.batch_size
            if not math.isfinite(total):
                raise TrainingDivergedError(
                    'training diverged in epoch %d at step %d of %d: the loss is %s (learning rate '
                    '%g). Nothing of this epoch was saved; %s. Lower the learning rate or check '
                    'the data.' % (epoch + 1, i + 1, steps, total, lr,
                                   'the checkpoint of epoch %d in %s is kept' % (epoch, out_dir)
                                   if epoch else 'no checkpoint was written'))
            bar.set_postfix(loss='%.3f' % (total / (i + 1)))
        # Copying the BatchNorm running statistics while the epoch's last steps were still
        # queued gave run-to-run differences in the test error here: let everything finish
        mx.nd.waitall()
        _average_running_statistics(net)
        logits = predict(tester.refresh(net), test_set.images, batch_size=config.batch_size,
                         ctx=contexts[0])
        test_error = error_rate(logits, test_set.labels)
        # what ran: the optimizer's learning rate and whether batches were mixed
        row = {'epoch': epoch + 1, 'lr': trainer.learning_rate, 'mixup': mixed,
               'train_loss': total / steps, 'test_error': test_error,
               'seconds': round(time.time() - start, 1), 'stale_input_bn': False,
               'machine': machine}
        state = dict(state, epoch=epoch + 1, history=state['history'] + [row])
        checkpoint.save(net, trainer, state)
        write_history(out_dir, state['history'], title)
        if on_epoch_end is not None:
            on_epoch_end(state['history'])
        log('epoch %d/%d  lr %g  loss %.4f  test error %.2f%%  (%.0f s)'
            % (epoch + 1, config.epochs, row['lr'], row['train_loss'], test_error, row['seconds']))
    if state['epoch'] == config.epochs:
        checkpoint.finish(net, state)
    return state['history']

