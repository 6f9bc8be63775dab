"""Writing a run folder's checkpoint, and the lock held while one process trains into it.

:class:`Checkpoint` writes the epoch's parameters and optimizer state, then ``state.json``
naming them (the commit point), each atomically; it checks that a checkpoint found in the
folder is one of the same run before resuming it. :class:`RunFolderLock` keeps a second
process out of a folder that is being trained into.
"""
import fcntl
import json
import os
import tempfile

from .errors import (CheckpointError, CheckpointMismatchError, NotARunFolderError,
                     RunFolderBusyError, RunFolderNotWritableError)
from .run_folder import FINAL_FILE, STATE_FILE, RunFolder
from .utils import atomic_path, is_temporary, mxnet_error_reason, params_file_problem

__all__ = ['Checkpoint', 'RunFolderLock', 'check_writable']

_IDENTITY = (('model', 'network'), ('label_set', 'label set'), ('train_images', 'training images'))


class Checkpoint:
    """The checkpoint files of one run folder: ``state.json`` and the epoch's params/states.

    Parameters
    ----------
    out_dir : str
        The run folder.
    """

    def __init__(self, out_dir):
        self.folder = RunFolder(out_dir)
        self.out_dir = out_dir
        self.state_path = self.folder.file(STATE_FILE)

    def load(self, config, run):
        """The saved state if the folder holds a checkpoint, after checking that it is one of
        the same ``run`` (model, label set, training images, architecture) and ``config``."""
        try:
            state = self.folder.state()
        except NotARunFolderError as e:
            raise CheckpointError(str(e)) from None
        if state is None:
            return None
        differences = ['%s %s, now %s' % (what, _short(state.get(key)), _short(run[key]))
                       for key, what in _IDENTITY
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
            path = self.folder.file(state.get(key) or '?')
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
                    'delete %s to start over'
                    % (path, mxnet_error_reason(e), self.out_dir)) from None

    def save(self, net, trainer, state):
        """Write the epoch's params and optimizer state, then ``state.json`` naming them, then
        remove the previous epoch's files."""
        epoch = state['epoch']
        files = {'params': 'epoch-%04d.params' % epoch, 'states': 'epoch-%04d.states' % epoch}
        with atomic_path(self.folder.file(files['params'])) as tmp:
            net.save_parameters(tmp)
        with atomic_path(self.folder.file(files['states'])) as tmp:
            trainer.save_states(tmp)
        old = self._files()
        self._commit(dict(state, **files))
        for name in old - set(files.values()):
            os.remove(self.folder.file(name))

    def finish(self, net, state):
        """Write ``final.params``; keep ``state.json`` (now naming it) and drop the epoch's
        params and optimizer state, which a finished run no longer needs."""
        with atomic_path(self.folder.file(FINAL_FILE)) as tmp:
            net.save_parameters(tmp)
        self._commit(dict(state, params=FINAL_FILE, states=None))
        for name in self._files():
            os.remove(self.folder.file(name))

    def discard_final(self):
        """Drop a finished run's ``final.params``: ``state.json`` records that its weights
        were not kept (``"weights_kept": false``), so the folder still reads as finished."""
        state = self.folder.state()
        if state is None or state['epoch'] != state['config']['epochs']:
            raise CheckpointError('%s holds no finished run whose weights could be dropped'
                                  % self.out_dir)
        self._commit(dict(state, params=None, states=None, weights_kept=False))
        self.clean(self.folder.state())

    def clean(self, state):
        """Remove what a killed write left: temporary files, epoch files that ``state`` (the
        folder's commit point, or None) does not name, and ``final.params`` of a run whose
        state says its weights were not kept. Returns the names removed."""
        keep = {state.get('params'), state.get('states')} if state else set()
        dropped = {FINAL_FILE} if state and state.get('weights_kept') is False else set()
        stray = sorted(n for n in os.listdir(self.out_dir)
                       if is_temporary(n) or n in dropped
                       or (n in self._files() and n not in keep))
        for name in stray:
            os.remove(self.folder.file(name))
        return stray

    def _commit(self, state):
        with atomic_path(self.state_path) as tmp, open(tmp, 'w') as f:
            json.dump(state, f, indent=1)

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
