"""Training runs: what one trains, :class:`RunSpec`, and the folder it writes, read through one
object, :class:`RunFolder`.

A run folder holds

* ``run.json``: what is trained (network, label set, training and test images, #params,
  schema), the command that trained it, a note for its report and, where some epochs' test
  errors cannot be trusted, its caveats (:class:`Caveat`);
* ``state.json``: the checkpoint index and the run's one commit point: the last finished
  epoch, the per-epoch history, the architecture and the weight files below;
* the last epoch's ``epoch-NNNN.params``/``.states`` while the run is unfinished, and
  ``final.params`` once it is done (:mod:`gluon_pydmn.checkpoint` writes them);
* ``history.csv``, ``history.png`` and ``summary.md``, derived from the two JSON files
  (:mod:`gluon_pydmn.run_report`).

``state.json`` is read by :meth:`RunFolder.state` only; everything else asks the folder.
Folders written by older versions are brought to this format by :mod:`gluon_pydmn.migrate`.
"""
import dataclasses
import json
import math
import os
import typing

from .data import CIFAR_MEAN, CIFAR_STD
from .errors import NotARunFolderError, OldRunFolderError
from .schema import TrainConfig

__all__ = ['STATE_FILE', 'RUN_FILE', 'FINAL_FILE', 'SUMMARY_FILE', 'HISTORY_FILE', 'PLOT_FILE',
           'RunSpec', 'Caveat', 'RunFolder', 'record_beside', 'run_result']

STATE_FILE = 'state.json'
RUN_FILE = 'run.json'
FINAL_FILE = 'final.params'
SUMMARY_FILE = 'summary.md'
HISTORY_FILE = 'history.csv'
PLOT_FILE = 'history.png'


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """A training run: network, data, schema and seed, and where it runs.

    Parameters
    ----------
    model : str
        Zoo name (``get_model_list()``) or GluonCV CIFAR name (``'cifar_resnet110_v2'``).
    label_set : str
        ``'cifar10'``, ``'cifar100-coarse'`` or ``'cifar100-fine'``
        (:data:`gluon_pydmn.catalog.LABEL_SETS`); the network gets that label set's head width.
        With ``data_dir``, the image folder's description of its classes
        (:attr:`~gluon_pydmn.image_folder.ImageFolder.label_set`), or None before training.
    config : TrainConfig
        The schema; its ``seed`` also seeds the network's Xavier initialisation.
    train_images, test_images : int, optional
        Train (test) on the first N images only; default all.
    model_args : dict, optional
        Passed to :func:`~gluon_pydmn.model_zoo.get_model` (e.g. ``kernel_sizes``).
    fast : bool, optional
        The C++ pyramid operator (CPU only); default: on when training on the CPU. It changes
        speed, not results, so it is not part of what a run folder records.
    ctx : list of Context, optional
        Where to train (default the CPU); not recorded either.
    data_dir : str, optional
        Train on an image folder (``data_dir/train/<class>/...``, tested on
        ``data_dir/val/<class>/...``; :func:`~gluon_pydmn.image_folder.load_train_val`)
        instead of CIFAR; the network gets one output per class.
    """
    model: str
    label_set: str = 'cifar10'
    config: TrainConfig = TrainConfig()
    train_images: typing.Optional[int] = None
    test_images: typing.Optional[int] = None
    model_args: dict = dataclasses.field(default_factory=dict)
    fast: typing.Optional[bool] = dataclasses.field(default=None, compare=False)
    ctx: typing.Optional[list] = dataclasses.field(default=None, compare=False)
    data_dir: typing.Optional[str] = None

    def to_record(self):
        """The spec as ``run.json`` records it (JSON values)."""
        record = {'model': self.model, 'label_set': self.label_set,
                  'train_images': self.train_images, 'test_images': self.test_images,
                  'config': self.config.to_dict(), 'schema': self.config.describe()}
        if self.model_args:
            record['model_args'] = dict(self.model_args)
        if self.data_dir:
            record['data_dir'] = self.data_dir
        return record

    @classmethod
    def from_record(cls, record, **runtime):
        """The spec a ``run.json`` recorded; ``runtime`` sets ``fast`` and ``ctx``."""
        return cls(model=record['model'], label_set=record['label_set'],
                   config=TrainConfig.from_dict(record['config']),
                   train_images=record.get('train_images'), test_images=record.get('test_images'),
                   model_args=dict(record.get('model_args') or {}),
                   data_dir=record.get('data_dir'), **runtime)

    @classmethod
    def from_folder(cls, path, **runtime):
        """The spec of the run folder ``path`` (its ``run.json``), to resume it."""
        return cls.from_record(RunFolder(path).record(), **runtime)

    def differences(self, recorded):
        """How ``recorded`` (e.g. a run folder's spec) differs from this spec, as
        ``'name recorded -> this'`` strings; empty if it is a run of this spec. Training and
        test images this spec leaves at None (the whole set) match any number."""
        mine, theirs = self.to_record(), recorded.to_record()
        mine['config'], theirs['config'] = self.config.to_dict(), recorded.config.to_dict()
        out = []
        for key in ('model', 'label_set', 'train_images', 'test_images', 'model_args',
                    'data_dir'):
            if mine.get(key) != theirs.get(key) and not (
                    (key.endswith('_images') or key == 'label_set' and self.data_dir)
                    and mine[key] is None):
                out.append('%s %s -> %s' % (key, theirs.get(key), mine.get(key)))
        out += ['%s %s -> %s' % (k, theirs['config'].get(k), v)
                for k, v in mine['config'].items() if theirs['config'].get(k) != v]
        return out

    def matches(self, recorded):
        """Whether ``recorded`` is a run of this spec (:meth:`differences` is empty)."""
        return not self.differences(recorded)

    def replace(self, **changes):
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


class Caveat:
    """Epochs of a run whose test errors cannot be trusted, and why.

    Parameters
    ----------
    first, last : int
        The epochs concerned (inclusive).
    text : str
        Why their test errors are off, as a sentence fragment ("tested with ...").
    mark : str
        The footnote mark reports put beside those errors.
    """

    def __init__(self, first, last, text, mark='†'):
        self.first, self.last, self.text, self.mark = int(first), int(last), text, mark

    def __contains__(self, epoch):
        return self.first <= epoch <= self.last

    def __eq__(self, other):
        return isinstance(other, Caveat) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return 'Caveat(%d, %d, %r)' % (self.first, self.last, self.text)

    def note(self):
        """The footnote: ``'Epochs 1-271 were tested with ...'``."""
        span = ('Epoch %d was' % self.first if self.first == self.last
                else 'Epochs %d-%d were' % (self.first, self.last))
        return '%s %s' % (span, self.text)

    def to_dict(self):
        return {'epochs': [self.first, self.last], 'text': self.text, 'mark': self.mark}

    @classmethod
    def from_dict(cls, saved):
        return cls(saved['epochs'][0], saved['epochs'][1], saved['text'], saved.get('mark', '†'))


def record_beside(checkpoint_path):
    """The ``run.json`` record of the run folder holding ``checkpoint_path`` (e.g. its
    ``final.params``), or None where the file is not in a run folder: what the weights were
    trained on (``model``, ``label_set``...), to check them against what they are used for."""
    folder = RunFolder(os.path.dirname(os.path.abspath(checkpoint_path)))
    return folder.record() if folder.has(RUN_FILE) else None


def run_result(history, unreliable=()):
    """The last and the best epoch of a run's history.

    Parameters
    ----------
    history : list of dict
        Rows with ``epoch`` and ``test_error``.
    unreliable : container of int
        Epochs whose test error cannot be trusted (a run's caveats): they compete for the
        best only when no other epoch was tested.

    Returns
    -------
    dict
        ``last_epoch``, ``last_error``, ``best_epoch`` and ``best_error`` (test error in
        percent; the earliest epoch wins a tie). The authors' notebook reported the best
        epoch's accuracy; the last epoch is what ``final.params`` holds.
    """
    if not history:
        raise ValueError('the run has no finished epoch yet')
    valid = [r for r in history if int(r['epoch']) not in unreliable] or history
    best = min(valid, key=lambda r: (float(r['test_error']), int(r['epoch'])))
    return {'last_epoch': int(history[-1]['epoch']), 'last_error': float(history[-1]['test_error']),
            'best_epoch': int(best['epoch']), 'best_error': float(best['test_error'])}


class _Unreliable:
    """The epochs covered by a list of :class:`Caveat`."""

    def __init__(self, caveats):
        self.caveats = caveats

    def __contains__(self, epoch):
        return any(epoch in c for c in self.caveats)


def _history_problem(state):
    """What is wrong with a checkpoint index's epoch and history, or None."""
    epoch, history, epochs = state['epoch'], state['history'], state['config']['epochs']
    if not 0 <= epoch <= epochs:
        return 'says epoch %d of a %d-epoch schema' % (epoch, epochs)
    if [row.get('epoch') for row in history] != list(range(1, epoch + 1)):
        return ('says epoch %d, but its history holds epochs %s'
                % (epoch, [row.get('epoch') for row in history] or 'none'))
    for row in history:
        values = [row.get(k) for k in ('lr', 'train_loss', 'test_error')]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            return 'has epoch %d without finite lr, train_loss and test_error' % row['epoch']
    return None


def _damaged(path, error, folder=None):
    return ('cannot read %s%s (%s: %s): restore it from the run\'s copy or commit%s'
            % ('the checkpoint index ' if path.endswith(STATE_FILE) else '', path,
               type(error).__name__, error,
               ', or delete %s to start over' % folder if folder else ''))


class RunFolder:
    """One run folder, read: its record, state, history, weights and result.

    Parameters
    ----------
    path : str
        The folder (it need not exist yet).
    """

    def __init__(self, path):
        self.path = str(path)

    def __repr__(self):
        return 'RunFolder(%r)' % self.path

    @property
    def name(self):
        """The folder's own name, as reports list it."""
        return os.path.basename(os.path.normpath(self.path))

    def file(self, name):
        """The path of file ``name`` in the folder."""
        return os.path.join(self.path, name)

    def has(self, name):
        """Whether the folder holds file ``name``."""
        return os.path.isfile(self.file(name))

    def _json(self, name):
        """File ``name`` as a JSON object, or None if it is absent; OSError or ValueError if
        it cannot be read."""
        path = self.file(name)
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            value = json.load(f)
        if not isinstance(value, dict):
            raise ValueError('not a JSON object')
        return value

    def state(self):
        """``state.json`` (the checkpoint index), or None if no epoch has finished.

        Returns
        -------
        dict or None
            ``epoch``, ``history``, ``config``, ``architecture``, ``params`` and ``states``
            (the weight files, relative to the folder), ``model``, ``label_set``,
            ``train_images``.
        """
        try:
            state = self._json(STATE_FILE)
            if state is None:
                return None
            if not isinstance(state['epoch'], int) or not isinstance(state['history'], list):
                raise TypeError('epoch must be a whole number and history a list')
            state['config'] = TrainConfig.from_dict(state['config']).to_dict()
            state['architecture']
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise NotARunFolderError(_damaged(self.file(STATE_FILE), e, self.path)) from None
        if any('stale_input_bn' in row for row in state['history']):
            raise self._old_format(STATE_FILE)
        problem = _history_problem(state)
        if problem:
            raise NotARunFolderError('%s %s: restore it from the run\'s copy or commit, or '
                                     'delete %s to start over'
                                     % (self.file(STATE_FILE), problem, self.path))
        return state

    def record(self):
        """``run.json``: what the run trains and how it is reported.

        Returns
        -------
        dict
            ``model``, ``label_set``, ``train_images``, ``test_images`` (None: all),
            ``params``, ``config`` (a dict), ``schema`` (its description), ``command``,
            ``note``, ``caveats`` (dicts of :class:`Caveat`), ``class_names`` (None where
            the folder does not record them) and ``mean``/``std``, the input normalisation
            (CIFAR's where the folder does not record it).
        """
        if not self.has(RUN_FILE):
            raise NotARunFolderError('%s holds no run (no %s naming a network and schema): is it '
                                     'a run folder of gluon-pydmn train?'
                                     % (self.path, RUN_FILE))
        try:
            record = self._json(RUN_FILE)
            record['config'] = TrainConfig.from_dict(record['config']).to_dict()
            record['label_set'], record['train_images']
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise NotARunFolderError(_damaged(self.file(RUN_FILE), e)) from None
        if 'caveats' not in record:
            raise self._old_format(RUN_FILE)
        for key in ('model', 'test_images', 'command', 'params'):
            record.setdefault(key, None)
        record.setdefault('note', '')
        record.setdefault('caveats', [])
        record.setdefault('class_names', None)
        record.setdefault('mean', list(CIFAR_MEAN))
        record.setdefault('std', list(CIFAR_STD))
        return record

    def _old_format(self, name):
        return OldRunFolderError('%s was written by an older version of gluon_pydmn: rewrite the '
                                 'folder in today\'s format with `python -m gluon_pydmn.migrate '
                                 '%s`' % (self.file(name), self.path))

    def config(self):
        """The run's schema, a :class:`~gluon_pydmn.schema.TrainConfig`."""
        return TrainConfig.from_dict(self.record()['config'])

    def spec(self, **runtime):
        """What the run trains, a :class:`RunSpec` (``runtime``: its
        ``fast`` and ``ctx``)."""
        return RunSpec.from_record(self.record(), **runtime)

    def caveats(self):
        """The run's :class:`Caveat` list (empty for most runs)."""
        return [Caveat.from_dict(c) for c in self.record()['caveats']] if self.has(RUN_FILE) else []

    def history(self):
        """One dict per finished epoch (``epoch``, ``lr``, ``mixup``, ``train_loss``,
        ``test_error``, ``seconds``, ``machine``), from ``state.json``."""
        state = self.state()
        if state is None:
            raise NotARunFolderError('%s has no finished epoch (no %s): is it a run folder of '
                                     'gluon-pydmn train with one finished epoch at least?'
                                     % (self.path, STATE_FILE))
        return [dict(row, machine=row.get('machine')) for row in state['history']]

    def result(self):
        """:func:`run_result` of the history, with the caveats' epochs as unreliable."""
        return run_result(self.history(), _Unreliable(self.caveats()))

    def weights(self):
        """The newest weights: ``final.params`` of a finished run, else the last finished
        epoch's parameters.

        Returns
        -------
        (str, int)
            The ``.params`` path and the epoch it holds.
        """
        state = self.state()
        if state is not None and state.get('weights_kept') is False:
            raise NotARunFolderError('%s holds no weights: its run finished, but they were not '
                                     'kept (%s); train it again to have them'
                                     % (self.path, STATE_FILE))
        if state is None or not state.get('params'):
            raise NotARunFolderError('%s holds no weights (%s names none); is it a run folder '
                                     'of gluon-pydmn train with one finished epoch?'
                                     % (self.path, STATE_FILE))
        path = self.file(state['params'])
        if not os.path.isfile(path):
            raise NotARunFolderError('%s names %s, which is missing: restore it from the run\'s '
                                     'copy or commit' % (self.file(STATE_FILE), path))
        return path, state['epoch']

    def is_finished(self):
        """Whether the last epoch of the schema is done and ``final.params`` written, or the
        folder records that its finished run's weights were not kept (``"weights_kept":
        false`` in ``state.json``, from :mod:`~gluon_pydmn.migrate`); an unreadable folder is
        not finished."""
        try:
            state = self.state()
        except NotARunFolderError:
            return False
        if state is None or state['epoch'] != state['config']['epochs']:
            return False
        return (state.get('params') == FINAL_FILE and self.has(FINAL_FILE)
                or state.get('weights_kept') is False)
