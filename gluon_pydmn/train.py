"""Training with the paper's schema, checkpointed after every epoch and resumable.

The schema (:class:`TrainConfig`, the paper's Section 4.2 and the authors' mixup notebook):
Nesterov momentum SGD (lr 0.1, momentum 0.9, weight decay 1e-4), batch 128, 320 epochs, the
learning rate divided by 10 at epochs 150 and 225, Xavier initialisation, random 4-pixel-pad
crops and horizontal flips, and mixup (``lam ~ Beta(1, 1)``, each batch mixed with its own
reverse, soft-label cross-entropy) switched off for the last 20 epochs.

:func:`train` writes, after every epoch, the parameters and the optimizer state with
``state.json`` naming them (each file written atomically, the JSON last), so an interrupted
run resumes from its last finished epoch. Each epoch draws its shuffling, augmentation
(:func:`gluon_pydmn.data.random_crop_flip`, the batched form of ``train_transform``) and
mixup from one generator seeded by ``(config.seed, epoch)``, so a resumed run sees the data
of the uninterrupted one.
"""
import csv
import dataclasses
import json
import os
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from tqdm import tqdm

from .data import normalize_images, random_crop_flip
from .evaluate import error_rate, predict
from .utils import atomic_path, context_list

__all__ = ['TrainConfig', 'mixup', 'train', 'history_markdown', 'CheckpointMismatchError']

STATE_FILE = 'state.json'


class CheckpointMismatchError(ValueError):
    """The output folder holds a checkpoint of another network or schema."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training schema; the defaults are the paper's.

    Attributes
    ----------
    epochs, batch_size : int
    optimizer : str
        An MXNet optimizer name; ``'nag'`` (Nesterov momentum) in the paper.
    learning_rate, momentum, weight_decay : float
    lr_decay : float
        Factor applied to the learning rate at each of ``lr_decay_epochs``.
    lr_decay_epochs : tuple of int
    mixup_alpha : float
        ``lam ~ Beta(alpha, alpha)``; 0 switches mixup off.
    mixup_off_last_epochs : int
        Train the last epochs without mixup.
    seed : int
        Seeds each epoch's shuffling, augmentation and mixup.
    """
    epochs: int = 320
    batch_size: int = 128
    optimizer: str = 'nag'
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.1
    lr_decay_epochs: tuple = (150, 225)
    mixup_alpha: float = 1.0
    mixup_off_last_epochs: int = 20
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, 'lr_decay_epochs', tuple(int(e) for e in self.lr_decay_epochs))
        for name in ('epochs', 'batch_size'):
            if int(getattr(self, name)) < 1:
                raise ValueError('%s must be at least 1, got %r' % (name, getattr(self, name)))
        for name in ('learning_rate', 'momentum', 'weight_decay', 'lr_decay', 'mixup_alpha',
                     'mixup_off_last_epochs'):
            if getattr(self, name) < 0:
                raise ValueError('%s must be >= 0, got %r' % (name, getattr(self, name)))

    @classmethod
    def from_paper(cls, tables, **overrides):
        """The schema transcribed in the paper's tables (:func:`gluon_pydmn.paper.load_paper_tables`)."""
        schema = tables['training_schema']
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in schema.items() if k in fields}
        values.update(overrides)
        return cls(**values)

    def learning_rate_at(self, epoch):
        """Learning rate of (0-based) ``epoch``."""
        return self.learning_rate * self.lr_decay ** sum(epoch >= e for e in self.lr_decay_epochs)

    def mixup_at(self, epoch):
        """Whether (0-based) ``epoch`` trains with mixup."""
        return self.mixup_alpha > 0 and epoch < self.epochs - self.mixup_off_last_epochs


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
        yield (normalize_images(random_crop_flip(dataset.images[idx], rng), ctx=ctx),
               nd.array(dataset.labels[idx], ctx=ctx))


def _architecture(net):
    """What a checkpoint must match: every parameter's name and shape."""
    return {name: list(p.shape) for name, p in net._collect_params_with_prefix().items()}


class _Checkpoint:
    """The files of one run folder: ``state.json`` and the epoch's params/states."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.state_path = os.path.join(out_dir, STATE_FILE)

    def load(self, config, architecture):
        if not os.path.isfile(self.state_path):
            return None
        with open(self.state_path) as f:
            state = json.load(f)
        if state['architecture'] != architecture:
            raise CheckpointMismatchError(
                '%s holds a checkpoint of another network (%s); train into another folder or '
                'delete it to start over' % (self.out_dir, state.get('model')))
        if state['config'] != _jsonable(config):
            raise CheckpointMismatchError(
                '%s holds a checkpoint trained with another schema (%s, now %s); train into '
                'another folder or delete it to start over'
                % (self.out_dir, state['config'], _jsonable(config)))
        return state

    def save(self, net, trainer, state):
        epoch = state['epoch']
        files = {'params': 'epoch-%04d.params' % epoch, 'states': 'epoch-%04d.states' % epoch}
        with atomic_path(os.path.join(self.out_dir, files['params'])) as tmp:
            net.save_parameters(tmp)
        with atomic_path(os.path.join(self.out_dir, files['states'])) as tmp:
            trainer.save_states(tmp)
        old = self._files()
        state = dict(state, **files)
        with atomic_path(self.state_path) as tmp:
            with open(tmp, 'w') as f:
                json.dump(state, f, indent=1)
        for name in old - set(files.values()):
            os.remove(os.path.join(self.out_dir, name))

    def _files(self):
        return {n for n in os.listdir(self.out_dir)
                if n.startswith('epoch-') and n.endswith(('.params', '.states'))}


def _jsonable(config):
    return json.loads(json.dumps(dataclasses.asdict(config)))


def history_markdown(history):
    """A markdown table of :func:`train`'s per-epoch rows."""
    lines = ['| epoch | lr | mixup | train loss | test error (%) | seconds |',
             '|---:|---:|---|---:|---:|---:|']
    lines += ['| %d | %g | %s | %.4f | %.2f | %.0f |'
              % (r['epoch'], r['lr'], 'yes' if r['mixup'] else 'no', r['train_loss'],
                 r['test_error'], r['seconds']) for r in history]
    return '\n'.join(lines) + '\n'


def _write_history(out_dir, history):
    with atomic_path(os.path.join(out_dir, 'history.csv')) as tmp:
        with open(tmp, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    import matplotlib.pyplot as plt
    from gluoncv.utils import TrainingHistory
    curves = TrainingHistory(['test-error'])
    for row in history:
        curves.update([row['test_error'] / 100.0])
    tmp = os.path.join(out_dir, '.history.tmp.png')  # savefig picks the format by extension
    plt.figure(figsize=(6, 4))
    try:
        curves.plot(y_lim=(0, max(0.5, max(r['test_error'] for r in history) / 100.0)),
                    save_path=tmp)
    finally:
        plt.close()
    os.replace(tmp, os.path.join(out_dir, 'history.png'))


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
        network's. GPU contexts work in principle but are untested here (several CPU contexts
        are tested).
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
        ``train_loss``, ``test_error`` (percent), ``seconds``.
    """
    config = config or TrainConfig()
    contexts = context_list(ctx)
    if config.batch_size % len(contexts):
        raise ValueError('batch size %d does not split evenly across %d devices'
                         % (config.batch_size, len(contexts)))
    classes = net.classes
    os.makedirs(out_dir, exist_ok=True)
    checkpoint = _Checkpoint(out_dir)
    architecture = _architecture(net)
    net.collect_params().reset_ctx(contexts)
    trainer = gluon.Trainer(net.collect_params(), config.optimizer,
                            {'learning_rate': config.learning_rate, 'momentum': config.momentum,
                             'wd': config.weight_decay})
    state = checkpoint.load(config, architecture)
    if state is not None:
        net.load_parameters(os.path.join(out_dir, state['params']), ctx=contexts)
        trainer.load_states(os.path.join(out_dir, state['states']))
        log('resuming %s after epoch %d of %d' % (out_dir, state['epoch'], config.epochs))
    else:
        state = {'model': model_name, 'architecture': architecture, 'config': _jsonable(config),
                 'epoch': 0, 'history': []}
    net.hybridize(static_alloc=True, static_shape=True)
    steps = len(train_set) // config.batch_size
    if steps == 0:
        raise ValueError('the training set (%d images) is smaller than one batch of %d'
                         % (len(train_set), config.batch_size))
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
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
            with autograd.record():
                losses = [loss_fn(net(xi), si) for xi, si in zip(xs, softs)]
            autograd.backward(losses)
            trainer.step(config.batch_size)
            total += sum(float(l.sum().asscalar()) for l in losses) / config.batch_size
            bar.set_postfix(loss='%.3f' % (total / (i + 1)))
        _average_running_statistics(net)
        logits = predict(net, test_set.images, batch_size=config.batch_size, ctx=contexts[0])
        test_error = error_rate(logits, test_set.labels)
        # what ran: the optimizer's learning rate and whether batches were mixed
        row = {'epoch': epoch + 1, 'lr': trainer.learning_rate, 'mixup': mixed,
               'train_loss': total / steps, 'test_error': test_error,
               'seconds': round(time.time() - start, 1)}
        state = dict(state, epoch=epoch + 1, history=state['history'] + [row])
        checkpoint.save(net, trainer, state)
        _write_history(out_dir, state['history'])
        if on_epoch_end is not None:
            on_epoch_end(state['history'])
        log('epoch %d/%d  lr %g  loss %.4f  test error %.2f%%  (%.0f s)'
            % (epoch + 1, config.epochs, row['lr'], row['train_loss'], test_error, row['seconds']))
    if state['epoch'] == config.epochs:
        with atomic_path(os.path.join(out_dir, 'final.params')) as tmp:
            net.save_parameters(tmp)
    return state['history']
