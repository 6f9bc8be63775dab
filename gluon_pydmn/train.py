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
import fcntl
import json
import math
import os
import tempfile
import time
import warnings

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from tqdm import tqdm

from .counting import count_params
from .data import check_raw_dataset, normalize_images, random_crop_flip
from .evaluate import error_rate, predict
from .errors import (CheckpointError, CheckpointMismatchError, ConfigError, NotARunFolderError,
                     RunFolderBusyError, RunFolderNotWritableError, TrainingDivergedError)
from .utils import atomic_path, context_list, mxnet_error_reason, params_file_problem

__all__ = ['TrainConfig', 'mixup', 'train', 'history_markdown', 'run_result', 'read_run',
           'read_run_spec', 'read_history', 'is_finished', 'CheckpointMismatchError',
           'CheckpointError', 'TrainingDivergedError', 'RunFolderBusyError',
           'RunFolderNotWritableError']

STATE_FILE = 'state.json'
RUN_FILE = 'run.json'
FINAL_FILE = 'final.params'


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
    schedule_scale : float
        1 for the schema as given; set by :meth:`compressed`, which scales the paper's epochs,
        decay epochs and mixup-free span by it.
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
    schedule_scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, 'lr_decay_epochs', tuple(int(e) for e in self.lr_decay_epochs))
        for name in ('epochs', 'batch_size'):
            if int(getattr(self, name)) < 1:
                raise ConfigError('%s must be at least 1, got %r' % (name, getattr(self, name)))
        for name in ('learning_rate', 'momentum', 'weight_decay', 'lr_decay', 'mixup_alpha',
                     'mixup_off_last_epochs', 'schedule_scale'):
            if getattr(self, name) < 0:
                raise ConfigError('%s must be >= 0, got %r' % (name, getattr(self, name)))

    @classmethod
    def from_paper(cls, tables, **overrides):
        """The schema transcribed in the paper's tables (:func:`gluon_pydmn.reproduce.paper.load_paper_tables`)."""
        schema = tables['training_schema']
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in schema.items() if k in fields}
        values.update(overrides)
        return cls(**values)

    def to_dict(self):
        """The schema as JSON values, as ``run.json`` and ``state.json`` record it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, saved):
        """The schema a run folder recorded (:meth:`to_dict`). Fields added to the schema
        since the run was written take their defaults; a field this version does not know is
        refused, since the run could not be reproduced without it."""
        unknown = sorted(set(saved) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError('the saved schema has fields this version of gluon_pydmn does not '
                              'know (%s): resume the run with the version that wrote it'
                              % ', '.join(unknown))
        return cls(**saved)

    @classmethod
    def compressed(cls, scale, **overrides):
        """The paper's schema with its length scaled by ``scale`` (e.g. 0.1: 32 epochs).

        The number of epochs, the decay epochs and the mixup-free span are all multiplied by
        ``scale`` and rounded to whole epochs (halves up), so a short run still decays its
        learning rate at the same fractions of training and still ends without mixup.

        Examples
        --------
        >>> c = TrainConfig.compressed(0.1)
        >>> c.epochs, c.lr_decay_epochs, c.mixup_off_last_epochs
        (32, (15, 23), 2)
        """
        if not 0 < scale <= 1:
            raise ConfigError('schedule scale must be in (0, 1], got %r' % (scale,))
        paper = cls()
        scaled = lambda n: max(1, int(math.floor(n * scale + 0.5)))  # noqa: E731
        values = dict(epochs=scaled(paper.epochs),
                      lr_decay_epochs=tuple(scaled(e) for e in paper.lr_decay_epochs),
                      mixup_off_last_epochs=scaled(paper.mixup_off_last_epochs),
                      schedule_scale=float(scale))
        values.update(overrides)
        return cls(**values)

    def describe(self):
        """One sentence on the schema's length: the paper's, compressed, or custom."""
        paper = TrainConfig(seed=self.seed)
        length = ('%d epochs, learning rate x%g at epochs %s, mixup off for the last %d'
                  % (self.epochs, self.lr_decay, ', '.join(map(str, self.lr_decay_epochs)),
                     self.mixup_off_last_epochs if self.mixup_alpha > 0 else self.epochs))
        if self.schedule_scale != 1:
            return "the paper's schema compressed to %g of its length (%s)" % (
                self.schedule_scale, length)
        if self == paper:
            return "the paper's full schema (%s)" % length
        return 'a custom schema (%s)' % length

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

    def load(self, config, run):
        """The saved state if the folder holds a checkpoint, after checking that it is one of
        the same ``run`` (model, label set, training images, architecture) and ``config``."""
        if not os.path.isfile(self.state_path):
            return None
        try:
            with open(self.state_path) as f:
                state = json.load(f)
            state['epoch'], state['history'], state['architecture']
            # fields added to the schema since the checkpoint was written take their defaults
            state['config'] = TrainConfig.from_dict(state['config']).to_dict()
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as e:
            raise CheckpointError(
                'cannot read the checkpoint index %s (%s: %s): restore it, or delete %s to start '
                'over' % (self.state_path, type(e).__name__, e, self.out_dir)) from None
        # entries added since the checkpoint was written take the run's values
        for key in ('label_set', 'train_images'):
            state.setdefault(key, run[key])
        differences = ['%s %s, now %s' % (what, _short(state.get(key)), _short(run[key]))
                       for key, what in (('model', 'network'), ('label_set', 'label set'),
                                         ('train_images', 'training images'))
                       if None not in (state.get(key), run[key]) and state.get(key) != run[key]]
        if state['architecture'] != run['architecture'] and not differences:
            differences.append('another architecture (parameter names or shapes: e.g. %s)'
                               % _first_difference(state['architecture'], run['architecture']))
        if state['config'] != config.to_dict():
            differences.append('schema ' + _config_difference(state['config'], config.to_dict()))
        if differences:
            raise CheckpointMismatchError(
                '%s holds a checkpoint of another run (%s); train into another folder or delete '
                'it to start over' % (self.out_dir, '; '.join(differences)))
        return state

    def restore(self, net, trainer, state, contexts):
        """Load the parameters and optimizer state that ``state`` names."""
        for key, load in (('params', lambda path: net.load_parameters(path, ctx=contexts)),
                          ('states', trainer.load_states)):
            path = os.path.join(self.out_dir, state.get(key) or '?')
            problem = params_file_problem(path)
            if problem == 'it does not exist':
                raise CheckpointError('%s names %s, which is missing: restore it, or delete %s '
                                      'to start over' % (self.state_path, path, self.out_dir))
            try:
                if problem:
                    raise ValueError(problem)
                load(path)
            except Exception as e:  # MXNet raises MXNetError/AssertionError/ValueError here
                raise CheckpointError(
                    'cannot load %s (%s): the file is truncated or damaged; restore it, or '
                    'delete %s to start over' % (path, mxnet_error_reason(e), self.out_dir)) from None

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

    def finish(self, net, state):
        """Write ``final.params``; keep ``state.json`` (now naming it) and drop the epoch's
        params and optimizer state, which a finished run no longer needs."""
        with atomic_path(os.path.join(self.out_dir, FINAL_FILE)) as tmp:
            net.save_parameters(tmp)
        with atomic_path(self.state_path) as tmp, open(tmp, 'w') as f:
            json.dump(dict(state, params=FINAL_FILE, states=None), f, indent=1)
        for name in self._files():
            os.remove(os.path.join(self.out_dir, name))

    def _files(self):
        return {n for n in os.listdir(self.out_dir)
                if n.startswith('epoch-') and n.endswith(('.params', '.states'))}


def _short(value):
    return repr(value) if isinstance(value, str) else str(value)


def _first_difference(saved, now):
    for name in sorted(set(saved) | set(now)):
        if saved.get(name) != now.get(name):
            return '%s %s, now %s' % (name, saved.get(name), now.get(name))
    return ''


def _config_difference(saved, now):
    return '(%s)' % ', '.join('%s=%s -> %s' % (k, saved.get(k), now.get(k))
                              for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k))


def run_result(history):
    """The last and the best epoch of a run's history.

    Returns
    -------
    dict
        ``last_epoch``, ``last_error``, ``best_epoch`` and ``best_error`` (test error in
        percent; the earliest epoch wins a tie). The authors' notebook reported the best
        epoch's accuracy; the last epoch is what ``final.params`` holds.
    """
    if not history:
        raise ValueError('the run has no finished epoch yet')
    best = min(history, key=lambda r: (float(r['test_error']), int(r['epoch'])))
    return {'last_epoch': int(history[-1]['epoch']), 'last_error': float(history[-1]['test_error']),
            'best_epoch': int(best['epoch']), 'best_error': float(best['test_error'])}


def history_markdown(history):
    """A markdown table of :func:`train`'s per-epoch rows."""
    lines = ['| epoch | lr | mixup | train loss | test error (%) | seconds |',
             '|---:|---:|---|---:|---:|---:|']
    lines += ['| %d | %g | %s | %.4f | %.2f | %.0f |'
              % (r['epoch'], r['lr'], 'yes' if r['mixup'] else 'no', r['train_loss'],
                 r['test_error'], r['seconds']) for r in history]
    return '\n'.join(lines) + '\n'


def _write_run(out_dir, net, run, config):
    """``run.json``: what the run is (network, data, #params, schema); it stays when a finished
    run's checkpoint files are removed (:func:`read_run`). An unchanged file is not rewritten."""
    info = {'model': run['model'], 'label_set': run['label_set'],
            'train_images': run['train_images'], 'params': count_params(net),
            'config': config.to_dict(), 'schema': config.describe()}
    path = os.path.join(out_dir, RUN_FILE)
    if os.path.isfile(path):
        with open(path) as f:
            if f.read() == json.dumps(info, indent=1):
                return
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(json.dumps(info, indent=1))


def read_history(out_dir):
    """A run folder's ``history.csv``: one dict per finished epoch, with numeric ``epoch``,
    ``lr``, ``train_loss``, ``test_error`` and ``seconds`` and boolean ``mixup``."""
    path = os.path.join(out_dir, 'history.csv')
    if not os.path.isfile(path):
        raise NotARunFolderError('%s is missing: is %s a run folder of experiments/train.py with '
                                'one finished epoch at least?' % (path, out_dir))
    with open(path, newline='') as f:
        return [{k: (v == 'True' if k == 'mixup' else int(v) if k == 'epoch' else float(v))
                 for k, v in row.items()} for row in csv.DictReader(f)]


def read_run(out_dir):
    """A run folder's ``run.json`` and history (:func:`read_history`) as ``(run, history)``."""
    history = read_history(out_dir)
    path = os.path.join(out_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise NotARunFolderError('%s is missing: the run folder %s was written by an older version '
                                'of train(); resuming it writes the file' % (path, out_dir))
    with open(path) as f:
        return json.load(f), history


def read_run_spec(out_dir):
    """What a run folder trains: its network, label set, number of training images and schema,
    from ``run.json`` or, for runs older than that file, ``state.json``.

    Returns
    -------
    dict
        ``model``, ``label_set`` and ``train_images`` (None where an old run did not record
        them) and ``config``, a :class:`TrainConfig`.
    """
    for name in (RUN_FILE, STATE_FILE):
        path = os.path.join(out_dir, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                saved = json.load(f)
            config = TrainConfig.from_dict(saved['config'])
            if not saved.get('model'):
                raise KeyError('model')
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise NotARunFolderError('cannot read %s (%s: %s): restore it from the run\'s '
                                     'copy or commit' % (path, type(e).__name__, e)) from None
        return {'model': saved['model'], 'label_set': saved.get('label_set'),
                'train_images': saved.get('train_images'), 'config': config}
    raise NotARunFolderError('%s holds no run (no %s or %s naming a network and schema): is it '
                             'a run folder of experiments/train.py?' % (out_dir, RUN_FILE,
                                                                         STATE_FILE))


def is_finished(out_dir, config, train_images):
    """Whether ``out_dir`` holds a finished run of ``config`` on ``train_images`` training
    images, so that :func:`train` would have nothing to do (an unreadable folder is not)."""
    try:
        with open(os.path.join(out_dir, STATE_FILE)) as f:
            state = json.load(f)
        return _is_final(state, config, out_dir) and state.get('train_images') == train_images \
            and TrainConfig.from_dict(state['config']) == config
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _is_final(state, config, out_dir):
    return state['epoch'] == config.epochs and os.path.isfile(os.path.join(out_dir, FINAL_FILE))


def _write_history(out_dir, history, title=None):
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
    if title:
        plt.title(title, fontsize=8)
    try:
        curves.plot(y_lim=(0, max(0.5, max(r['test_error'] for r in history) / 100.0)),
                    save_path=tmp)
    finally:
        plt.close()
    os.replace(tmp, os.path.join(out_dir, 'history.png'))


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
        ``train_loss``, ``test_error`` (percent), ``seconds``.
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
    with _RunFolderLock(out_dir):
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


class _RunFolderLock:
    """An exclusive lock on a run folder (``flock`` on the folder itself, so nothing is
    written), held while one process trains into it."""

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def __enter__(self):
        self.fd = os.open(self.out_dir, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RunFolderBusyError(
                '%s is in use by another training run (%s); wait for it to finish or train into '
                'another folder' % (self.out_dir, _lock_holder(self.out_dir))) from None
        return self

    def __exit__(self, *exc_info):
        os.close(self.fd)


def _lock_holder(path):
    """``process PID (command)`` holding an flock on ``path``, from ``/proc/locks`` (Linux)."""
    inode = os.stat(path).st_ino
    try:
        with open('/proc/locks') as f:
            for line in f:
                fields = line.split()
                if 'FLOCK' in fields and fields[5].rsplit(':', 1)[-1] == str(inode):
                    pid = int(fields[4])
                    with open('/proc/%d/cmdline' % pid, 'rb') as g:
                        command = g.read().replace(b'\0', b' ').decode(errors='replace').strip()
                    return 'process %d: %s' % (pid, command)
    except (OSError, ValueError, IndexError):
        pass
    return 'holder unknown'


def _check_writable(out_dir):
    try:
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        raise RunFolderNotWritableError('cannot write into the run folder %s (%s): make it '
                                        'writable or train into another folder'
                                        % (out_dir, e.strerror or e)) from None


def _train(net, train_set, test_set, out_dir, config, contexts, classes, steps, run, stop_after,
           progress, log, on_epoch_end):
    checkpoint = _Checkpoint(out_dir)
    state = checkpoint.load(config, run)
    if state is not None and _is_final(state, config, out_dir):
        log('%s is finished (%d of %d epochs): nothing to do' % (out_dir, state['epoch'],
                                                                 config.epochs))
        return state['history']
    _check_writable(out_dir)
    net.collect_params().reset_ctx(contexts)
    trainer = gluon.Trainer(net.collect_params(), config.optimizer,
                            {'learning_rate': config.learning_rate, 'momentum': config.momentum,
                             'wd': config.weight_decay})
    if state is not None:
        checkpoint.restore(net, trainer, state, contexts)
        log('resuming %s after epoch %d of %d' % (out_dir, state['epoch'], config.epochs))
    else:
        state = dict(run, config=config.to_dict(), epoch=0, history=[])
    state.update(label_set=run['label_set'], train_images=run['train_images'])
    _write_run(out_dir, net, run, config)
    title = '%s: %s' % (run['model'] or type(net).__name__, config.describe())
    net.hybridize(static_alloc=True, static_shape=True)
    tester = _EvaluationCopy(net, contexts[0])
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
               'seconds': round(time.time() - start, 1)}
        state = dict(state, epoch=epoch + 1, history=state['history'] + [row])
        checkpoint.save(net, trainer, state)
        _write_history(out_dir, state['history'], title)
        if on_epoch_end is not None:
            on_epoch_end(state['history'])
        log('epoch %d/%d  lr %g  loss %.4f  test error %.2f%%  (%.0f s)'
            % (epoch + 1, config.epochs, row['lr'], row['train_loss'], test_error, row['seconds']))
    if state['epoch'] == config.epochs:
        checkpoint.finish(net, state)
    return state['history']
