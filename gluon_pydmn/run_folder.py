"""Run folders: the files :func:`gluon_pydmn.train.train` writes and the readers of them.

A run folder holds ``run.json`` (what is trained: network, label set, training images,
#params, schema), ``history.csv`` and ``history.png`` (one row per finished epoch),
``state.json`` (the checkpoint index: epoch, history, schema, architecture, and the files
below), the last epoch's ``epoch-NNNN.params``/``.states`` while the run is unfinished, and
``final.params`` once it is done; ``experiments/train.py`` adds ``summary.md`` (the command,
the schema and the per-epoch table). Every file is written atomically, ``state.json`` after the
files it names, so an interrupted run resumes from its last finished epoch.
"""
import ast
import csv
import dataclasses
import datetime
import fcntl
import json
import os
import re
import statistics
import tempfile

import mxnet as mx

from .counting import count_params
from .errors import (CheckpointError, CheckpointMismatchError, ConfigError, NotARunFolderError,
                     RunFolderBusyError, RunFolderNotWritableError)
from .schema import TrainConfig
from .utils import (atomic_path, input_batchnorm_untrained, mxnet_error_reason,
                    params_file_problem, write_text)

__all__ = ['STATE_FILE', 'RUN_FILE', 'FINAL_FILE', 'SUMMARY_FILE', 'HISTORY_FILE', 'Checkpoint',
           'RunFolderLock', 'check_writable', 'write_run_info', 'write_history', 'read_history',
           'read_run', 'read_run_spec', 'read_summary_spec', 'is_final', 'is_finished',
           'run_result', 'history_markdown', 'epoch_times_markdown', 'summary_header',
           'write_summary', 'refresh_summary', 'current_weights', 'stale_input_batchnorm',
           'stale_note']

STATE_FILE = 'state.json'
RUN_FILE = 'run.json'
FINAL_FILE = 'final.params'
SUMMARY_FILE = 'summary.md'
HISTORY_FILE = 'history.csv'


def read_run(out_dir):
    """A run folder's ``run.json`` and history (:func:`read_history`) as ``(run, history)``."""
    history = read_history(out_dir)
    path = os.path.join(out_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise NotARunFolderError('%s is missing: the run folder %s was written by an older version '
                                'of train(); resuming it writes the file' % (path, out_dir))
    with open(path) as f:
        return json.load(f), history


def read_history(out_dir):
    """A run folder's ``history.csv``: one dict per finished epoch, with numeric ``epoch``,
    ``lr``, ``train_loss``, ``test_error`` and ``seconds``, boolean ``mixup`` and
    ``stale_input_bn``, and ``machine`` (the machine ``seconds`` was measured on; None for
    epochs trained before it was recorded). For a history written before ``stale_input_bn``,
    that column says whether the run's current weights have a stale input BatchNorm
    (:func:`stale_input_batchnorm`); when no weights are left to tell, every epoch is marked,
    as the loop before the fix left that layer untrained on every CPU."""
    path = os.path.join(out_dir, HISTORY_FILE)
    if not os.path.isfile(path):
        raise NotARunFolderError('%s is missing: is %s a run folder of experiments/train.py with '
                                'one finished epoch at least?' % (path, out_dir))
    with open(path, newline='') as f:
        rows = [{k: _parse_column(k, v) for k, v in row.items()} for row in csv.DictReader(f)]
    if rows and 'stale_input_bn' not in rows[0]:
        # written before the input BatchNorm fix: the weights tell whether it matters (a run
        # trained on a GPU has the statistics); without weights nothing clears the epochs
        try:
            stale = stale_input_batchnorm(current_weights(out_dir)[0])
        except NotARunFolderError:
            stale = True
        rows = [dict(row, stale_input_bn=stale) for row in rows]
    return rows


_BOOLEAN_COLUMNS = ('mixup', 'stale_input_bn')


def _parse_column(name, text):
    if name in _BOOLEAN_COLUMNS:
        return text == 'True'
    if name == 'machine':
        return text or None  # epochs trained before the machine was recorded
    return int(text) if name == 'epoch' else float(text)


def stale_input_batchnorm(params_path):
    """Whether the weights in ``params_path`` have an input BatchNorm (``features.0``, as in
    this package's networks and GluonCV's CIFAR ResNet v2) still at its initial running
    statistics, mean 0 and variance 1.

    Weights trained with this package before the input BatchNorm's fix look like this: MXNet's
    CPU BatchNorm updates its running statistics in the backward pass, which that layer never
    got (see :func:`gluon_pydmn.train.train`). Tested with them, the network sees inputs
    shifted and scaled unlike in training, and its test error is too high.
    """
    return input_batchnorm_untrained(mx.nd.load(params_path))


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


def read_summary_spec(out_dir):
    """What a run trained, from the first lines of its ``summary.md`` (:func:`summary_header`):
    for runs older than both ``run.json`` and ``state.json``.

    Returns
    -------
    dict
        As :func:`read_run_spec`; entries that cannot be read are None.
    """
    spec = dict.fromkeys(('model', 'label_set', 'train_images', 'config'))
    try:
        with open(os.path.join(out_dir, SUMMARY_FILE)) as f:
            title, _, text = f.read().partition('\n')
        spec['model'], spec['label_set'] = re.fullmatch(r'# (\S+) on (\S+)', title).groups()
        spec['train_images'] = int(re.search(r'(\d+) training images', text).group(1))
        # "Schema: [description; ]epochs=12, ..., lr_decay_epochs=(6, 9), ..., seed=0."
        schema = re.search(r'Schema: (?:[^;\n]*; )?([^\n]*)\.\n', text).group(1)
        spec['config'] = TrainConfig.from_dict({k: ast.literal_eval(v) if v[0] in '(0123456789'
                                                else v for k, v in
                                                re.findall(r'(\w+)=(\([^)]*\)|[^,]+)', schema)})
    except (OSError, AttributeError, ValueError, SyntaxError):
        pass  # what could be read
    return spec


def current_weights(out_dir):
    """The newest weights of a run folder: ``final.params`` of a finished run, else the last
    finished epoch's parameters, as named by ``state.json``.

    Returns
    -------
    (str, int)
        The ``.params`` path and the epoch it holds.
    """
    path = os.path.join(out_dir, STATE_FILE)
    try:
        with open(path) as f:
            state = json.load(f)
        weights = os.path.join(out_dir, state['params'])
        epoch = int(state['epoch'])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise NotARunFolderError('%s holds no weights: cannot read %s (%s: %s); is it a run '
                                 'folder of experiments/train.py with one finished epoch?'
                                 % (out_dir, path, type(e).__name__, e)) from None
    if not os.path.isfile(weights):
        raise NotARunFolderError('%s names %s, which is missing: restore it from the run\'s copy '
                                 'or commit' % (path, weights))
    return weights, epoch


def run_result(history):
    """The last and the best epoch of a run's history.

    Returns
    -------
    dict
        ``last_epoch``, ``last_error``, ``best_epoch`` and ``best_error`` (test error in
        percent; the earliest epoch wins a tie). The authors' notebook reported the best
        epoch's accuracy; the last epoch is what ``final.params`` holds. Epochs tested with a
        stale input BatchNorm (:func:`stale_input_batchnorm`) compete for the best only when
        no other epoch was tested.
    """
    if not history:
        raise ValueError('the run has no finished epoch yet')
    valid = [r for r in history if not r.get('stale_input_bn')] or history
    best = min(valid, key=lambda r: (float(r['test_error']), int(r['epoch'])))
    return {'last_epoch': int(history[-1]['epoch']), 'last_error': float(history[-1]['test_error']),
            'best_epoch': int(best['epoch']), 'best_error': float(best['test_error'])}


def history_markdown(history):
    """A markdown table of :func:`~gluon_pydmn.train.train`'s per-epoch rows, without the
    wall times: those are only comparable on one machine (:func:`epoch_times_markdown`)."""
    lines = ['| epoch | lr | mixup | train loss | test error (%) |', '|---:|---:|---|---:|---:|']
    lines += ['| %d | %g | %s | %.4f | %.2f%s |'
              % (r['epoch'], r['lr'], 'yes' if r['mixup'] else 'no', r['train_loss'],
                 r['test_error'], STALE_MARK if r.get('stale_input_bn') else '')
              for r in history]
    stale = [r['epoch'] for r in history if r.get('stale_input_bn')]
    if stale:
        lines.append('\n%s %s' % (STALE_MARK, stale_note(stale)))
    return '\n'.join(lines) + '\n'


def epoch_times_markdown(history):
    """The wall time per epoch, one line for each machine that trained epochs of the run (a run
    resumed on other machines has several), as median and range in seconds. Epochs trained
    before the machine was recorded with them get no time: it cannot be told which machine
    took it."""
    by_machine = {}
    for row in history:
        by_machine.setdefault(row.get('machine'), []).append(row)
    lines = []
    for machine, rows in by_machine.items():
        epochs = _epoch_ranges([r['epoch'] for r in rows])
        if machine is None:
            lines.append('- %s: not shown, as the machine that trained them was not recorded '
                         '(history.csv keeps the seconds)' % epochs)
            continue
        seconds = sorted(r['seconds'] for r in rows)
        lines.append('- %s on %s: median %.0f s (%.0f-%.0f s)'
                     % (epochs, machine, statistics.median(seconds), seconds[0], seconds[-1]))
    return ('Wall time per epoch, by the machine that trained the epochs (times from different '
            'machines are not comparable; other work on a machine slows its epochs):\n\n'
            + '\n'.join(lines) + '\n')


def _epoch_ranges(epochs):
    """``'epoch 3'`` or ``'epochs 1-4, 7'`` for a sorted list of epochs."""
    spans = []
    for epoch in epochs:
        if spans and epoch == spans[-1][1] + 1:
            spans[-1][1] = epoch
        else:
            spans.append([epoch, epoch])
    text = ', '.join('%d' % a if a == b else '%d-%d' % (a, b) for a, b in spans)
    return ('epoch ' if len(epochs) == 1 else 'epochs ') + text


STALE_MARK = '†'
STALE_CAUSE = ('the input BatchNorm still at its initial statistics (mean 0, variance 1): a bug '
               'of the training loop before its fix, see docs/training.md')
STALE_CONSEQUENCE = 'Their test errors are too high; training itself was not affected.'


def stale_note(epochs):
    """What a reader must know about the test errors of ``epochs``, tested with a stale input
    BatchNorm (:func:`stale_input_batchnorm`). The run index and ``results/signature.md`` say
    it with the same :data:`STALE_CAUSE`."""
    return 'Epochs %d-%d were tested with %s. %s' % (min(epochs), max(epochs), STALE_CAUSE,
                                                      STALE_CONSEQUENCE)


def summary_header(model, label_set, command, config, train_images, note=''):
    """The first lines of ``summary.md``: how the run was made. ``{date}``, ``{epochs_done}``
    and ``{result}`` are filled in by :func:`write_summary`; ``note`` ends the paragraph (e.g.
    the paper's error for the network)."""
    return ('# %s on %s\n\nGenerated by `%s` on {date} with MXNet %s; do not edit by hand. '
            '%d training images, {epochs_done} of %d epochs done. Schema: %s; %s.\n\n'
            '{result}%s\n\n'
            % (model, label_set, command, mx.__version__, train_images, config.epochs,
               config.describe(), ', '.join('%s=%s' % kv for kv in dataclasses.asdict(config).items()),
               note))


def write_summary(out_dir, header, history):
    """``summary.md``: ``header`` (:func:`summary_header`), the last and best epoch's test
    error, the per-epoch table (:func:`history_markdown`) and the time per epoch on each
    machine (:func:`epoch_times_markdown`)."""
    result = run_result(history)
    stale = [r for r in history if r.get('stale_input_bn')]
    caveat = ''
    if len(stale) == len(history):
        caveat = ' All epochs were tested with a stale input BatchNorm (%s).' % STALE_MARK
    elif stale:
        caveat = (' The best epoch is taken from the epochs tested after the input BatchNorm fix '
                  '(%s marks the others).' % STALE_MARK)
    text = (header.replace('{epochs_done}', str(history[-1]['epoch']))
            .replace('{date}', datetime.date.today().isoformat())
            .replace('{result}', 'Test error: %.2f%% at the last epoch (%d), %.2f%% at the best '
                     'epoch (%d).%s' % (result['last_error'], result['last_epoch'],
                                        result['best_error'], result['best_epoch'], caveat)))
    write_text(os.path.join(out_dir, SUMMARY_FILE), text + _summary_tables(history))


def _summary_tables(history):
    return history_markdown(history) + '\n' + epoch_times_markdown(history)


def refresh_summary(out_dir):
    """Rewrite the tables of ``out_dir``'s ``summary.md`` from its ``history.csv`` in the
    current layout (:func:`write_summary`'s), keeping the lines above them: the command that
    trained the run, its schema and result. For summaries written by an older version, e.g.
    with the wall times of several machines in one column. A summary whose lines above the
    tables are behind its ``history.csv`` (a run stopped between writing the two) is refused.

    Returns
    -------
    bool
        Whether the file changed.
    """
    path = os.path.join(out_dir, SUMMARY_FILE)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise NotARunFolderError('cannot read %s (%s): is %s a run folder of experiments/train.py?'
                                 % (path, e.strerror, out_dir)) from None
    head, table, _ = text.partition('\n| epoch |')
    if not table:
        raise NotARunFolderError('%s has no per-epoch table (a line starting "| epoch |"): '
                                 'restore it from the run\'s commit' % path)
    history = read_history(out_dir)
    done = re.search(r'(\d+) of \d+ epochs done', head)
    if done and int(done.group(1)) != history[-1]['epoch']:
        raise NotARunFolderError('%s says "%s", but its history.csv ends at epoch %d: resume '
                                 'the run (experiments/train.py --resume %s) to rewrite both'
                                 % (path, done.group(0), history[-1]['epoch'], out_dir))
    new = head + '\n' + _summary_tables(history)
    if new == text:
        return False
    write_text(path, new)
    return True


def is_finished(out_dir, config, train_images):
    """Whether ``out_dir`` holds a finished run of ``config`` on ``train_images`` training
    images, so that :func:`~gluon_pydmn.train.train` would have nothing to do (an unreadable folder is not)."""
    try:
        with open(os.path.join(out_dir, STATE_FILE)) as f:
            state = json.load(f)
        return is_final(state, config, out_dir) and state.get('train_images') == train_images \
            and TrainConfig.from_dict(state['config']) == config
    except (OSError, ValueError, KeyError, TypeError):
        return False


def is_final(state, config, out_dir):
    """Whether the checkpoint index ``state`` of ``out_dir`` records the last epoch of
    ``config`` and the folder holds ``final.params``."""
    return state['epoch'] == config.epochs and os.path.isfile(os.path.join(out_dir, FINAL_FILE))


def write_run_info(out_dir, net, run, config):
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
    write_text(path, json.dumps(info, indent=1))


def write_history(out_dir, history, title=None):
    """``history.csv`` (the per-epoch rows) and ``history.png`` (the test-error curve, drawn
    with GluonCV's ``TrainingHistory``), each written atomically."""
    with atomic_path(os.path.join(out_dir, HISTORY_FILE)) as tmp:
        with open(tmp, 'w', newline='') as f:
            # epochs resumed from an older checkpoint may have columns its epochs lack
            columns = list(dict.fromkeys(k for row in history for k in row))
            writer = csv.DictWriter(f, fieldnames=columns, restval='')
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



class Checkpoint:
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
        """Write the epoch's params and optimizer state, then ``state.json`` naming them, then
        remove the previous epoch's files."""
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


class RunFolderLock:
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


def check_writable(out_dir):
    """Refuse a run folder this process cannot write into, before any training is spent."""
    try:
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        raise RunFolderNotWritableError('cannot write into the run folder %s (%s): make it '
                                        'writable or train into another folder'
                                        % (out_dir, e.strerror or e)) from None
