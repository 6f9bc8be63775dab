"""Run folders are crash-consistent: ``state.json`` is the one commit point, everything else is
derived from it or cleaned on the next open, and a damaged index is refused naming the fix."""
import json
import os
import shutil
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.errors import CheckpointError
from gluon_pydmn.run_folder import RunFolder
from gluon_pydmn.run_report import history_csv, summary_markdown
from gluon_pydmn.train import TrainConfig, train

CONFIG = TrainConfig(epochs=2, batch_size=32, learning_rate=0.01, lr_decay_epochs=(1,),
                     mixup_off_last_epochs=1)
FINISHED_FILES = {'run.json', 'state.json', 'history.csv', 'history.png', 'summary.md',
                  'final.params'}

# Trains CONFIG's run in a fresh process and kills it (os._exit, as kill -9: nothing is
# cleaned up) just before its N-th file replacement or removal.
CHILD = r'''
import os, sys
import mxnet as mx
import gluon_pydmn as g
from gluon_pydmn.train import TrainConfig, train
data_root, folder, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = TrainConfig(**{CONFIG})
mx.random.seed(0)
net = g.get_cifar_net('mobilenet', 11, 0.25, initialize=True)
train_set = g.CIFAR10(data_root, train=True).subset(128)
test_set = g.CIFAR10(data_root, train=False).subset(64)
calls = [0]
def killing(real):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == target:
            os._exit(9)
        return real(*args, **kwargs)
    return call
os.replace, os.remove = killing(os.replace), killing(os.remove)
train(net, train_set, test_set, folder, config, progress=False, log=lambda message: None)
'''.replace('{CONFIG}', repr(dict(epochs=2, batch_size=32, learning_rate=0.01,
                                   lr_decay_epochs=(1,), mixup_off_last_epochs=1)))


@pytest.fixture(scope='module')
def tiny_data(data_root):
    return (g.CIFAR10(data_root, train=True).subset(128),
            g.CIFAR10(data_root, train=False).subset(64))


def _net():
    mx.random.seed(0)
    return g.get_cifar_net('mobilenet', 11, 0.25, initialize=True)


def _params(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(path)).items()}


@pytest.fixture(scope='module')
def runs(tiny_data, tmp_path_factory):
    """The uninterrupted run, and a copy of the same run stopped after epoch 1."""
    root = tmp_path_factory.mktemp('runs')
    train(_net(), *tiny_data, str(root / 'whole'), CONFIG, progress=False, log=lambda m: None)
    train(_net(), *tiny_data, str(root / 'epoch1'), CONFIG, progress=False, stop_after=1,
          log=lambda m: None)
    return root


def _assert_finished_like(folder, whole):
    """``folder`` holds exactly the finished run's files, consistent with its state, and the
    uninterrupted run's history and weights."""
    assert set(os.listdir(folder)) == FINISHED_FILES
    run = RunFolder(folder)
    assert run.is_finished()
    ours, theirs = run.history(), RunFolder(whole).history()
    # the same epochs and schedule; the numbers of a resumed epoch agree to float rounding
    # (resuming exactly is tested in test_train.py)
    assert [(r['epoch'], r['lr'], r['mixup']) for r in ours] == \
        [(r['epoch'], r['lr'], r['mixup']) for r in theirs]
    assert [r['train_loss'] for r in ours] == pytest.approx([r['train_loss'] for r in theirs],
                                                            rel=1e-3)
    with open(os.path.join(folder, 'history.csv'), newline='') as f:
        assert f.read() == history_csv(run.history())
    with open(os.path.join(folder, 'summary.md')) as f:
        assert f.read() == summary_markdown(run)
    ours, theirs = _params(run.file('final.params')), _params(os.path.join(whole, 'final.params'))
    assert set(ours) == set(theirs)
    assert max(float(np.abs(ours[k] - theirs[k]).max()) for k in ours) <= 1e-3


def test_a_kill_at_every_write_point_of_the_last_epoch_and_the_finish_is_completed(
        runs, tiny_data, data_root, tmp_path):
    """The child resumes epoch 2 of 2 and is killed before its 1st, 2nd, ... file write or
    removal, in turn, until it runs through; each time the next open completes the folder."""
    points = 0
    for target in range(1, 40):
        folder = tmp_path / ('kill%d' % target)
        shutil.copytree(runs / 'epoch1', folder)
        child = subprocess.run([sys.executable, '-c', CHILD, data_root, str(folder), str(target)],
                               capture_output=True, text=True)
        if child.returncode == 0:
            break
        assert child.returncode == 9, child.stderr[-2000:]
        points += 1
        train(_net(), *tiny_data, str(folder), CONFIG, progress=False, log=lambda m: None)
        _assert_finished_like(str(folder), str(runs / 'whole'))
    # params, states, state.json, two removals, history.csv, .png, summary.md; final.params,
    # state.json, two removals
    assert points >= 12, 'only %d write points were reached' % points


def test_stray_temporary_and_epoch_files_are_cleaned_on_the_next_open(runs, tiny_data, tmp_path):
    folder = tmp_path / 'run'
    shutil.copytree(runs / 'whole', folder)
    for name in ('.epoch-0002.params.x1y2.tmp', '.history.png.abc.tmp.png', 'epoch-0002.states'):
        (folder / name).write_bytes(b'left by a killed write')
    messages = []
    train(_net(), *tiny_data, str(folder), CONFIG, progress=False, log=messages.append)
    assert messages == ['%s is finished (2 of 2 epochs): nothing to do' % folder]
    assert set(os.listdir(folder)) == FINISHED_FILES


def test_reports_behind_the_state_are_rebuilt_on_the_next_open(runs, tiny_data, tmp_path):
    folder = tmp_path / 'run'
    shutil.copytree(runs / 'whole', folder)
    summary = (folder / 'summary.md').read_text()
    (folder / 'summary.md').write_text(summary.replace('2 of 2 epochs done', '1 of 2 epochs done'))
    (folder / 'history.csv').write_text((folder / 'history.csv').read_text().splitlines()[0])
    train(_net(), *tiny_data, str(folder), CONFIG, progress=False, log=lambda m: None)
    assert (folder / 'summary.md').read_text() == summary
    assert (folder / 'history.csv').read_text() == history_csv(RunFolder(folder).history())


@pytest.mark.parametrize('damage, message', [
    (lambda s: dict(s, history=[]), r'says epoch 1, but its history holds epochs none'),
    (lambda s: dict(s, epoch=5), r'says epoch 5 of a 2-epoch schema'),
    (lambda s: dict(s, epoch='1'), r'epoch must be a whole number'),
    (lambda s: dict(s, history=[dict(s['history'][0], test_error=float('nan'))]),
     r'has epoch 1 without finite lr, train_loss and test_error'),
])
def test_a_checkpoint_index_at_odds_with_its_history_is_refused(runs, tiny_data, tmp_path,
                                                                damage, message):
    folder = tmp_path / 'run'
    shutil.copytree(runs / 'epoch1', folder)
    state = json.loads((folder / 'state.json').read_text())
    (folder / 'state.json').write_text(json.dumps(damage(state)))
    with pytest.raises(CheckpointError, match=message + r'.*restore it .* or delete'):
        train(_net(), *tiny_data, str(folder), CONFIG, progress=False, log=lambda m: None)
    with pytest.raises(FileNotFoundError, match=message):
        RunFolder(folder).history()


def test_an_out_folder_that_is_a_file_is_one_clear_error(tiny_data, tmp_path):
    path = tmp_path / 'file'
    path.write_text('not a folder')
    for out in (path, path / 'under'):
        with pytest.raises(PermissionError, match='cannot create the run folder %s' % out):
            train(_net(), *tiny_data, str(out), CONFIG, progress=False)


def test_a_finished_run_that_kept_no_weights_is_marked_finished_by_the_migration(runs, tiny_data,
                                                                                tmp_path):
    from gluon_pydmn.errors import NotARunFolderError
    from gluon_pydmn.migrate import migrate_run_folder
    folder = str(tmp_path / 'run')
    shutil.copytree(str(runs / 'whole'), folder)
    os.remove(os.path.join(folder, 'final.params'))  # as an old run that never kept them
    with open(os.path.join(folder, 'state.json')) as f:
        state = json.load(f)
    with open(os.path.join(folder, 'state.json'), 'w') as f:
        json.dump(dict(state, params=None, states=None), f)
    assert not RunFolder(folder).is_finished()
    assert migrate_run_folder(folder) == ['state.json rewritten (its finished run kept no weights)']
    assert migrate_run_folder(folder) == []
    run = RunFolder(folder)
    assert run.is_finished() and run.state()['weights_kept'] is False
    with pytest.raises(NotARunFolderError, match='finished, but they were not kept'):
        run.weights()
    logs = []
    history = train(_net(), *tiny_data, folder, CONFIG, progress=False, log=logs.append)
    assert len(history) == 2 and 'nothing to do' in logs[-1]
