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
import json
import math
import os
import time
import warnings

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from tqdm import tqdm

from .catalog import label_set
from .data import augmented_batch, check_raw_dataset, get_dataset
from .evaluate import error_rate, predict
from .image_folder import ImageFolder
from .errors import (CheckpointError, CheckpointMismatchError, ConfigError, RunFolderBusyError,
                     RunFolderNotWritableError, TrainingDivergedError)
from .checkpoint import Checkpoint, RunFolderLock, check_writable
from .classifier import (class_names, has_input_normalization, input_normalization,
                         is_initialized, num_outputs, set_class_names, set_input_normalization)
from .counting import count_params
from .machine import machine_info, machine_line
from .model_zoo import get_model
from .run_folder import RUN_FILE, RunFolder, RunSpec
from .run_report import refresh_reports, write_reports
from .schema import TrainConfig
from .utils import context_list, write_text

__all__ = ['TrainConfig', 'RunSpec', 'mixup', 'train', 'run_training', 'TrainingLoop',
           'CheckpointMismatchError', 'CheckpointError', 'TrainingDivergedError',
           'RunFolderBusyError', 'RunFolderNotWritableError']


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


def _batches(dataset, batch_size, rng, ctx, normalization):
    """Shuffled, augmented, normalised training batches; the last partial batch is dropped."""
    order = rng.permutation(len(dataset))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]
        yield (augmented_batch(dataset.images[idx], rng, ctx, *normalization),
               nd.array(dataset.labels[idx], ctx=ctx))


def _architecture(net):
    """What a checkpoint must match: every parameter's name and shape."""
    return {name: list(p.shape) for name, p in net._collect_params_with_prefix().items()}


class _EvaluationCopy:
    """The network's graph with its own copy of the weights, for the test after each epoch.

    MKL-DNN's inference path reorders a network's weights in place, asynchronously, so testing
    the training network itself would change the epochs after a test (by up to 1e-2 in the
    weights after one epoch at lr 0.1), and a resumed run, which never tested the network it
    trains, would differ from an uninterrupted one. Testing a copy keeps them identical.
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


def train(net, train_set, test_set, out_dir, config=None, *, ctx=None, stop_after=None,
          progress=True, log=print, model_name=None, on_epoch_end=None, command=None, note=''):
    """Train ``net`` with ``config``'s schema, checkpointing into ``out_dir`` every epoch.

    Parameters
    ----------
    net : CIFARNet or a GluonCV CIFAR network
        E.g. ``get_model(name, classes=...)``, or one with pretrained weights and a new head
        (:meth:`~gluon_pydmn.cifar_net.CIFARNet.reset_classifier`). An uninitialised network
        is initialised here with Xavier, as the paper does (and the log says so); it is
        hybridized here. With ``fast=True`` (CPU) the pyramids train as one C++ operator each.
    train_set, test_set : datasets of :mod:`gluon_pydmn.data`
        Raw ``(32, 32, 3)`` uint8 images (``.images``) with integer labels (``.labels``);
        the training images get the paper's augmentation. The test error is measured after
        every epoch.
    out_dir : str
        Run folder (:mod:`gluon_pydmn.run_folder`). If it already holds a checkpoint of the
        same network and schema, training resumes after its last epoch.
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
        Recorded in ``run.json`` and ``state.json``; default ``net.model_name`` (set by
        :func:`~gluon_pydmn.model_zoo.get_model`), if any.
    on_epoch_end : callable, optional
        Called with the history (as returned) after each epoch's checkpoint and reports are
        written.
    command, note : str, optional
        The command that trains the run and a closing remark for its ``summary.md`` (e.g. the
        paper's error for the network), recorded in ``run.json``.

    Returns
    -------
    list of dict
        One row per finished epoch (all of them, also those of earlier calls): ``epoch``
        (1-based), ``lr`` (the optimizer's), ``mixup`` (whether batches were mixed),
        ``train_loss``, ``test_error`` (percent), ``seconds`` and ``machine``
        (:func:`~gluon_pydmn.machine.machine_line` of the machine whose wall time ``seconds``
        is).
    """
    config = config or TrainConfig()
    contexts = context_list(ctx)
    if config.batch_size % len(contexts):
        raise ConfigError('batch size %d does not split evenly across %d devices'
                          % (config.batch_size, len(contexts)))
    classes = num_outputs(net)
    for dataset in (train_set, test_set):
        check_raw_dataset(dataset, 'train()')
    _check_labels(classes, train=train_set, test=test_set)
    if len(train_set) < config.batch_size:
        raise ConfigError('the training set (%d images) is smaller than one batch of %d'
                          % (len(train_set), config.batch_size))
    model_name = model_name or getattr(net, 'model_name', None)
    initialised = _make_ready(net, contexts, model_name, log)
    note = (note or '') + (' ' + initialised if initialised else '')
    _adopt_data_description(net, train_set)
    run = {'model': model_name, 'label_set': getattr(train_set, 'label_set', None),
           'train_images': len(train_set), 'test_images': len(test_set),
           'architecture': _architecture(net), 'command': command, 'note': note,
           'class_names': class_names(net), 'normalization': input_normalization(net),
           'data_dir': train_set.root if isinstance(train_set, ImageFolder) else None}
    _make_folder(out_dir)
    with RunFolderLock(out_dir):
        loop = TrainingLoop(net, (train_set, test_set), out_dir, config, contexts, run,
                            log=log, progress=progress)
        return loop.run(stop_after, on_epoch_end)


def _make_ready(net, contexts, name, log):
    """Initialise ``net``'s uninitialised parameters (all of a fresh network, or the new head
    of a fine-tuned one) with Xavier, as the paper does, and give layers built without their
    input size (``nn.Dense(n)``) their shapes; returns the sentence saying what was
    initialised (``''`` if nothing), for the log and the run's summary."""
    said = ''
    if not is_initialized(net):
        params = list(net.collect_params().values())
        missing = [p for p in params
                   if p._data is None and not p._deferred_init]  # pylint: disable=protected-access
        for param in missing:
            param.initialize(None, contexts, mx.init.Xavier())  # as Block.initialize does
        said = ('%d of the network\'s %d parameters had no value when training started: '
                'train() initialised them with Xavier, as the paper does.'
                % (len(missing), len(params)))
        log('%s: %s' % (name or type(net).__name__, said))
    if any(0 in p.shape for p in net.collect_params().values()):
        net(nd.zeros((1, 3, 32, 32), ctx=contexts[0]))
    return said


def _adopt_data_description(net, train_set):
    """Give ``net`` the class names of ``train_set`` (unless its head has its own) and its
    normalisation (unless ``net`` has one: its pretrained weights', when fine-tuning)."""
    names = getattr(train_set, 'class_names', None)
    if class_names(net) is None and names:
        set_class_names(net, tuple(names)[:num_outputs(net)])
    if not has_input_normalization(net) and getattr(train_set, 'mean', None) is not None:
        set_input_normalization(net, train_set.mean, train_set.std)


def _make_folder(out_dir):
    """Create the run folder ``out_dir``, or say in one line why it cannot be one."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise RunFolderNotWritableError('cannot create the run folder %s (%s): give --out a '
                                        'folder path' % (out_dir, e.strerror or e)) from None


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


class TrainingLoop:
    """One run's training in its folder: the epochs, the test after each, the checkpoint.

    Parameters
    ----------
    net : HybridBlock
    data : (train_set, test_set)
    out_dir : str
    config : TrainConfig
    contexts : list of Context
    run : dict
        What the run is: ``model``, ``label_set``, ``train_images``, ``test_images``,
        ``architecture`` (checked against a checkpoint found in the folder), ``command``,
        ``note``.
    log : callable
    progress : bool
        A progress bar per epoch.
    """

    def __init__(self, net, data, out_dir, config, contexts, run, *, log=print, progress=True):
        self.net, (self.train_set, self.test_set) = net, data
        self.folder, self.checkpoint = RunFolder(out_dir), Checkpoint(out_dir)
        self.config, self.contexts, self.run_info = config, contexts, run
        self.log, self.progress = log, progress
        self.classes = num_outputs(net)
        self.steps = len(self.train_set) // config.batch_size

    def run(self, stop_after=None, on_epoch_end=None):
        """Train from the folder's last finished epoch to the schema's end (or ``stop_after``
        epochs); returns the history."""
        state = self.checkpoint.load(self.config, self.run_info)
        self.checkpoint.clean(state)
        if state is not None and self.folder.is_finished():
            refresh_reports(self.folder)
            self.log('%s is finished (%d of %d epochs): nothing to do'
                     % (self.folder.path, state['epoch'], self.config.epochs))
            return state['history']
        check_writable(self.folder.path)
        self._prepare(state)
        first = self.state['epoch']
        last = self.config.epochs if stop_after is None else min(self.config.epochs,
                                                                 first + stop_after)
        for epoch in range(first, last):
            self._epoch(epoch)
            if on_epoch_end is not None:
                on_epoch_end(self.state['history'])
        if self.state['epoch'] == self.config.epochs:
            self.checkpoint.finish(self.net, self.state)
        return self.state['history']

    def _prepare(self, state):
        """Place the network, build the optimizer, restore ``state`` (or start afresh)."""
        self.net.collect_params().reset_ctx(self.contexts)
        config = self.config
        self.trainer = gluon.Trainer(self.net.collect_params(), config.optimizer,
                                     {'learning_rate': config.learning_rate,
                                      'momentum': config.momentum, 'wd': config.weight_decay})
        run = self.run_info
        if state is not None:
            self.checkpoint.restore(self.net, self.trainer, state, self.contexts)
            self.log('resuming %s after epoch %d of %d' % (self.folder.path, state['epoch'],
                                                           config.epochs))
        else:
            state = dict(model=run['model'], architecture=run['architecture'],
                         config=config.to_dict(), epoch=0, history=[])
        self.state = dict(state, label_set=run['label_set'], train_images=run['train_images'])
        _write_record(self.folder, self.net, run, config)
        if state['epoch']:
            refresh_reports(self.folder)
        self.net.hybridize(static_alloc=True, static_shape=True)
        self.tester = _EvaluationCopy(self.net, self.contexts[0])
        self.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
        self.machine = machine_line(dict(machine_info(self.contexts[0], onnx=False),
                                         ctx=', '.join(str(c) for c in self.contexts)))

    def _epoch(self, epoch):
        """Train (0-based) ``epoch``, test, checkpoint and report it."""
        start = time.time()
        lr = self.config.learning_rate_at(epoch)
        self.trainer.set_learning_rate(lr)
        loss, mixed = self._train_epoch(epoch)
        test_error = self._test()
        # what ran: the optimizer's learning rate and whether batches were mixed
        row = {'epoch': epoch + 1, 'lr': self.trainer.learning_rate, 'mixup': mixed,
               'train_loss': loss, 'test_error': test_error,
               'seconds': round(time.time() - start, 1), 'machine': self.machine}
        self.state = dict(self.state, epoch=epoch + 1, history=self.state['history'] + [row])
        self.checkpoint.save(self.net, self.trainer, self.state)
        write_reports(self.folder)
        self.log('epoch %d/%d  lr %g  loss %.4f  test error %.2f%%  (%.0f s)'
                 % (epoch + 1, self.config.epochs, row['lr'], loss, test_error, row['seconds']))

    def _train_epoch(self, epoch):
        """One pass over the training set; returns the mean loss and whether a batch was
        mixed."""
        config, contexts = self.config, self.contexts
        rng = _epoch_rng(config.seed, epoch)
        use_mixup = config.mixup_at(epoch)
        mixed, total = False, 0.0
        bar = tqdm(_batches(self.train_set, config.batch_size, rng, contexts[0],
                            input_normalization(self.net)),
                   total=self.steps, desc='epoch %d/%d' % (epoch + 1, config.epochs),
                   disable=not self.progress, leave=False)
        for i, (x, y) in enumerate(bar):
            lam = rng.beta(config.mixup_alpha, config.mixup_alpha) if use_mixup else 1.0
            mixed = mixed or bool(lam < 1)
            x, soft = mixup(x, y, self.classes, lam)
            xs, softs = (gluon.utils.split_and_load(a, contexts) for a in (x, soft))
            for xi in xs:
                # MXNet's CPU BatchNorm updates its running statistics in the backward pass
                # (apache/mxnet#18673): the input BatchNorm (no gamma or beta) gets one only
                # if the data has a gradient.
                xi.attach_grad()
            with autograd.record():
                losses = [self.loss_fn(self.net(xi), si) for xi, si in zip(xs, softs)]
            autograd.backward(losses)
            self.trainer.step(config.batch_size)
            total += sum(float(l.sum().asscalar()) for l in losses) / config.batch_size
            if not math.isfinite(total):
                self._diverged(epoch, i, total)
            bar.set_postfix(loss='%.3f' % (total / (i + 1)))
        return total / self.steps, mixed

    def _diverged(self, epoch, step, total):
        raise TrainingDivergedError(
            'training diverged in epoch %d at step %d of %d: the loss is %s (learning rate %g). '
            'Nothing of this epoch was saved; %s. Lower the learning rate or check the data.'
            % (epoch + 1, step + 1, self.steps, total, self.trainer.learning_rate,
               'the checkpoint of epoch %d in %s is kept' % (epoch, self.folder.path)
               if epoch else 'no checkpoint was written'))

    def _test(self):
        """The test error (%) of the network as it would be saved now."""
        # copying the BatchNorm running statistics while the epoch's last steps are still
        # queued makes the test error vary from run to run: let everything finish
        mx.nd.waitall()
        _average_running_statistics(self.net)
        logits = predict(self.tester.refresh(self.net), self.test_set.images,
                         batch_size=self.config.batch_size, ctx=self.contexts[0],
                         normalization=input_normalization(self.net))
        return error_rate(logits, self.test_set.labels)


def _write_record(folder, net, run, config):
    """``run.json``: what the run is (network, data, #params, schema), how it is reported
    (command, note) and its caveats, which are kept. An unchanged file is not rewritten."""
    old = folder.record() if folder.has(RUN_FILE) else {}
    record = {'model': run['model'], 'label_set': run['label_set'],
              'train_images': run['train_images'], 'test_images': run['test_images'],
              'params': count_params(net), 'config': config.to_dict(),
              'schema': config.describe(), 'command': run['command'] or old.get('command'),
              'note': run['note'] or old.get('note', ''), 'caveats': old.get('caveats', [])}
    if run.get('data_dir'):
        record['data_dir'] = run['data_dir']
    if run.get('class_names'):
        record['class_names'] = list(run['class_names'])
    if run.get('normalization'):
        record['mean'], record['std'] = (list(v) for v in run['normalization'])
    text = json.dumps(record, indent=1)
    if os.path.isfile(folder.file(RUN_FILE)):
        with open(folder.file(RUN_FILE)) as f:
            if f.read() == text:
                return
    write_text(folder.file(RUN_FILE), text)


def run_training(spec, out_dir, *, data_root=None, stop_after=None, progress=True, log=print,
                 command=None, note='', on_epoch_end=None):
    """Train the run ``spec`` describes into ``out_dir``, or resume it there.

    Builds the network (seeded with the schema's seed, the label set's head width, the C++
    pyramid operator on CPU unless ``spec.fast`` says otherwise), loads the data (the first
    ``spec.train_images``/``spec.test_images`` images where set) and calls :func:`train`.

    Parameters
    ----------
    spec : RunSpec
    out_dir : str
        The run folder; ``RunSpec.from_folder(out_dir)`` gives the spec back.
    data_root : str, optional
        CIFAR folder (default ``$GLUON_PYDMN_DATA``).
    stop_after, progress, log, command, note, on_epoch_end
        As for :func:`train`.

    Returns
    -------
    list of dict
        The run's history (:func:`train`).
    """
    contexts = context_list(spec.ctx)
    fast = spec.fast if spec.fast is not None else contexts[0].device_type == 'cpu'
    datasets = _run_datasets(spec, data_root, progress)
    classes = (datasets[0].num_classes if spec.data_dir else
               label_set(spec.label_set).head_width)
    mx.random.seed(spec.config.seed)  # the Xavier initialisation
    net = get_model(spec.model, classes=classes, ctx=contexts, fast=fast, initialize=True,
                    **spec.model_args)
    return train(net, datasets[0], datasets[1], out_dir, spec.config, ctx=contexts,
                 stop_after=stop_after, progress=progress, log=log, model_name=spec.model,
                 on_epoch_end=on_epoch_end, command=command, note=note)


def _run_datasets(spec, data_root, progress):
    """The training and test sets of ``spec``: its image folder's train and val splits, or its
    CIFAR label set's, each cut to the spec's number of images."""
    if spec.data_dir:
        from .image_folder import load_train_val  # Pillow is needed for image folders only
        datasets = load_train_val(spec.data_dir, progress=progress)
    else:
        datasets = [get_dataset(spec.label_set, train=part, root=data_root)
                    for part in (True, False)]
    return [d.subset(n) if n and n < len(d) else d
            for d, n in zip(datasets, (spec.train_images, spec.test_images))]
