"""Training: the paper's schema, mixup, checkpoints that resume exactly, and the CLI."""
import json
import os
import subprocess
import warnings

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn import cli
from gluon_pydmn.cpu import engine_threads
from gluon_pydmn.commands import train as train_script
from gluon_pydmn.reproduce.paper import load_paper_tables, table3_error
from gluon_pydmn.errors import UserError
from gluon_pydmn.evaluate import error_rate, predict
from gluon_pydmn.errors import ConfigError
from gluon_pydmn.machine import machine_info, machine_line
from gluon_pydmn.migrate import migrate_run_folder
from gluon_pydmn.model_zoo import input_batchnorm_untrained
from gluon_pydmn.run_folder import Caveat, RunFolder, RunSpec, run_result
from gluon_pydmn.run_report import epoch_times_markdown, history_markdown, write_history
from gluon_pydmn.train import (CheckpointError, CheckpointMismatchError, RunFolderBusyError,
                               TrainConfig, TrainingDivergedError, mixup, train)
from gluon_pydmn.train_options import config_from_args

from conftest import reset_input_batchnorm

# lr 0.01: small enough that MKL-DNN's last-bit differences between a fresh and a re-used graph
# stay near 1e-6 after two epochs, where a lost optimizer state or data order changes ~1e-1.
TINY = dict(epochs=2, batch_size=32, learning_rate=0.01, lr_decay_epochs=(1,),
            mixup_off_last_epochs=1)


def test_default_schema_is_the_papers():
    tables = load_paper_tables()
    assert TrainConfig() == TrainConfig.from_paper(tables)
    schema = tables['training_schema']
    assert (TrainConfig().epochs, TrainConfig().lr_decay_epochs) == (
        schema['epochs'], tuple(schema['lr_decay_epochs']))


def test_learning_rate_and_mixup_schedule():
    c = TrainConfig()
    assert [c.learning_rate_at(e) for e in (0, 149, 150, 224, 225, 319)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert c.mixup_at(299) and not c.mixup_at(300)
    assert not TrainConfig(mixup_alpha=0).mixup_at(0)


def test_compressed_schema_scales_epochs_decays_and_mixup_together():
    c = TrainConfig.compressed(0.1)
    assert (c.epochs, c.lr_decay_epochs, c.mixup_off_last_epochs) == (32, (15, 23), 2)
    assert [c.learning_rate_at(e) for e in (0, 14, 15, 22, 23, 31)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert c.mixup_at(29) and not c.mixup_at(30)
    assert c.describe().startswith("the paper's schema compressed to 0.1 of its length (32 epochs")
    assert TrainConfig.compressed(1.0) == TrainConfig(schedule_scale=1.0)
    assert TrainConfig().describe().startswith("the paper's full schema (320 epochs")
    assert TrainConfig(epochs=12).describe().startswith('a custom schema (12 epochs')
    plain = TrainConfig.compressed(0.1, mixup_alpha=0)
    assert plain.describe().endswith('at epochs 15, 23, no mixup)')
    assert not any(plain.mixup_at(e) for e in range(32))
    assert TrainConfig.compressed(0.5, learning_rate=0.05).learning_rate == 0.05
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match='schedule scale'):
            TrainConfig.compressed(bad)


def test_run_result_gives_last_and_earliest_best_epoch():
    history = [{'epoch': 1, 'test_error': 30.0}, {'epoch': 2, 'test_error': 20.5},
               {'epoch': 3, 'test_error': 25.0}, {'epoch': 4, 'test_error': 20.5},
               {'epoch': 5, 'test_error': 22.0}]
    assert run_result(history) == {'last_epoch': 5, 'last_error': 22.0,
                                   'best_epoch': 2, 'best_error': 20.5}
    assert run_result(history[:1]) == {'last_epoch': 1, 'last_error': 30.0,
                                       'best_epoch': 1, 'best_error': 30.0}
    with pytest.raises(ValueError, match='no finished epoch'):
        run_result([])


def test_run_result_skips_epochs_with_a_caveat():
    history = [{'epoch': 1, 'test_error': 9.0}, {'epoch': 2, 'test_error': 12.0},
               {'epoch': 3, 'test_error': 11.0}]
    caveat = Caveat(1, 1, 'tested badly.')
    assert 1 in caveat and 2 not in caveat
    assert run_result(history, unreliable=caveat) == {'last_epoch': 3, 'last_error': 11.0,
                                                      'best_epoch': 3, 'best_error': 11.0}
    assert run_result(history)['best_epoch'] == 1
    assert run_result(history[:1], caveat)['best_epoch'] == 1  # nothing else to choose from


def _rows(machines, seconds):
    return [{'epoch': i + 1, 'lr': 0.1, 'mixup': True, 'train_loss': 1.5, 'test_error': 20.0,
             'seconds': s, **({} if m is None else {'machine': m})}
            for i, (m, s) in enumerate(zip(machines, seconds))]


def test_epoch_times_are_given_per_machine_never_in_one_column():
    """A run resumed on other machines: each machine's epochs and their median time on a line
    of their own; epochs whose machine was not recorded get no time."""
    history = _rows([None, None, 'CPU A', 'CPU A', 'CPU B', 'CPU A', 'CPU A'],
                    [900, 100, 150, 170, 400, 160, 200])
    assert epoch_times_markdown(history).splitlines()[2:] == [
        '- epochs 1-2: not shown, as the machine that trained them was not recorded '
        '(history.csv keeps the seconds)',
        '- epochs 3-4, 6-7 on CPU A: median 165 s (150-200 s)',
        '- epoch 5 on CPU B: median 400 s (400-400 s)']
    table = history_markdown(history)
    assert table.splitlines()[0] == '| epoch | lr | mixup | train loss | test error (%) |'
    assert '| 5 | 0.1 | yes | 1.5000 | 20.00 |' in table and '400' not in table


def test_history_of_a_run_resumed_from_before_the_machine_column_round_trips(tmp_path):
    """Epochs from an older checkpoint lack ``machine``; the resumed epochs have it: the
    folder's history gives None for them, history.csv an empty cell."""
    import csv
    history = _rows([None, 'CPU A, 2 cores', 'CPU A, 2 cores'], [100, 150, 170])
    (tmp_path / 'state.json').write_text(json.dumps(
        {'epoch': 3, 'history': history, 'config': TrainConfig().to_dict(), 'architecture': {}}))
    folder = RunFolder(tmp_path)
    assert [r['machine'] for r in folder.history()] == [None, 'CPU A, 2 cores', 'CPU A, 2 cores']
    write_history(folder, folder.history())
    with open(tmp_path / 'history.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['machine'] for r in rows] == ['', 'CPU A, 2 cores', 'CPU A, 2 cores']
    assert [float(r['seconds']) for r in rows] == [100, 150, 170]


@pytest.mark.parametrize('bad', [dict(epochs=0), dict(batch_size=0), dict(learning_rate=-1),
                                 dict(mixup_alpha=-0.5)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=list(bad)[0]):
        TrainConfig(**bad)


def test_mixup_mixes_each_batch_with_its_reverse():
    x = mx.nd.arange(4 * 3).reshape(4, 3)
    y = mx.nd.array([0, 1, 2, 1])
    mixed, soft = mixup(x, y, 3, 0.75)
    assert np.allclose(mixed.asnumpy(), 0.75 * x.asnumpy() + 0.25 * x.asnumpy()[::-1])
    assert np.allclose(soft.asnumpy()[0], [0.75, 0.25, 0])  # label 0 mixed with label 1
    assert np.allclose(soft.asnumpy().sum(axis=1), 1)
    same, onehot = mixup(x, y, 3, 1.0)
    assert np.array_equal(same.asnumpy(), x.asnumpy())
    assert np.array_equal(onehot.asnumpy().argmax(axis=1), y.asnumpy())


@pytest.fixture(scope='module')
def tiny_data(data_root):
    return (g.CIFAR10(data_root, train=True).subset(128),
            g.CIFAR10(data_root, train=False).subset(64))


def _net(family='pydmobilenet_concat', seed=0):
    mx.random.seed(seed)
    return g.get_cifar_net(family, 11, 0.25, fast=True, initialize=True)


def _params(net):
    return {k: v.data().asnumpy() for k, v in net._collect_params_with_prefix().items()}


def test_interrupted_training_resumes_where_it_stopped(tiny_data, tmp_path):
    """Stopping after epoch 1 and running again gives the uninterrupted run's weights."""
    config = TrainConfig(**TINY)
    whole = _net()
    history = train(whole, *tiny_data, str(tmp_path / 'whole'), config, progress=False)
    assert [(r['epoch'], r['lr'], r['mixup']) for r in history] == [
        (1, 0.01, True), (2, pytest.approx(0.001), False)]
    assert all(np.isfinite(r['train_loss']) and 0 <= r['test_error'] <= 100 for r in history)
    files = set(os.listdir(tmp_path / 'whole'))  # finished: the epoch checkpoints are dropped
    assert files == {'state.json', 'run.json', 'history.csv', 'history.png', 'summary.md',
                     'final.params'}

    run = str(tmp_path / 'parts')
    reports = []
    first = train(_net(), *tiny_data, run, config, progress=False, stop_after=1,
                  on_epoch_end=reports.append)
    assert len(first) == 1 and not os.path.exists(os.path.join(run, 'final.params'))
    assert reports == [first]
    messages = []
    resumed_net = _net(seed=1)  # other initial weights: they must come from the checkpoint
    resumed = train(resumed_net, *tiny_data, run, config, progress=False, log=messages.append)
    assert messages[0].startswith('resuming') and 'after epoch 1 of 2' in messages[0]
    assert [r['epoch'] for r in resumed] == [1, 2]
    expected = _params(whole)
    for name, value in _params(resumed_net).items():
        assert np.abs(value - expected[name]).max() <= 1e-6, name
    assert resumed[1]['test_error'] == history[1]['test_error']


def test_resume_is_exact_under_the_papers_schema(data_root, tmp_path):
    """lr 0.1, batch 128, mixup, a zoo network: testing after epoch 1 must not change epoch 2.

    (Testing the training network itself, rather than a copy, made the uninterrupted run drift
    from the resumed one by about 1e-2 here.)"""
    data = (g.CIFAR10(data_root, train=True).subset(512), g.CIFAR10(data_root, train=False).subset(256))
    config = TrainConfig(epochs=2)

    def zoo_net():
        mx.random.seed(0)
        return g.get_model('mobilenet_29_0.5', fast=True, initialize=True)
    whole = zoo_net()
    history = train(whole, *data, str(tmp_path / 'whole'), config, progress=False)
    train(zoo_net(), *data, str(tmp_path / 'parts'), config, progress=False, stop_after=1)
    resumed = zoo_net()
    resumed_history = train(resumed, *data, str(tmp_path / 'parts'), config, progress=False)
    expected = _params(whole)
    worst = max((float(np.abs(value - expected[name]).max()), name)
                for name, value in _params(resumed).items())
    assert worst[0] <= 1e-6, 'resumed run differs from the uninterrupted one: %g in %s' % worst
    assert resumed_history == [dict(r, seconds=q['seconds']) for r, q in zip(history, resumed_history)]


@pytest.mark.parametrize('name', g.get_model_list() + ['cifar_resnet20_v2'])
def test_training_trains_every_batchnorm(name, tiny_data, tmp_path):
    """After one short epoch, every BatchNorm's saved running statistics have left their
    initial 0 and 1, for every zoo network and a GluonCV CIFAR ResNet v2 (whose first layer is,
    as in ours, a BatchNorm without gamma or beta on the data, which MXNet's CPU BatchNorm
    once left untrained)."""
    net = g.get_model(name, fast=True, initialize=True) if name in g.get_model_list() else g.get_model(name, initialize=True)
    config = TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, lr_decay_epochs=(),
                         mixup_off_last_epochs=0)
    train(net, *tiny_data, str(tmp_path), config, progress=False, log=lambda message: None)
    weights = mx.nd.load(str(tmp_path / 'final.params'))
    untrained = [key for key, value in sorted(weights.items())
                 if (key.endswith('running_mean') and (value == 0).asnumpy().all())
                 or (key.endswith('running_var') and (value == 1).asnumpy().all())]
    assert sum(key.endswith('running_mean') for key in weights) > 10
    assert not untrained, '%s: running statistics never updated in training: %s' % (name,
                                                                                    untrained)


def test_checkpoint_of_another_run_is_refused(tiny_data, tmp_path):
    config = TrainConfig(**dict(TINY, epochs=1))
    train(_net(), *tiny_data, str(tmp_path), config, progress=False)
    with pytest.raises(CheckpointMismatchError, match='another architecture'):
        train(_net('mobilenet'), *tiny_data, str(tmp_path), config, progress=False)
    with pytest.raises(CheckpointMismatchError, match=r'schema \(epochs=1 -> 3'):
        train(_net(), *tiny_data, str(tmp_path), TrainConfig(**dict(TINY, epochs=3)),
              progress=False)
    with pytest.raises(CheckpointMismatchError, match='training images 128, now 96'):
        train(_net(), tiny_data[0].subset(96), tiny_data[1], str(tmp_path), config,
              progress=False)


def test_same_network_on_another_label_set_names_the_label_set(data_root, tmp_path):
    config = TrainConfig(**dict(TINY, epochs=1))
    fine = g.CIFAR100(data_root, train=True, label_mode='fine').subset(64)
    coarse = g.CIFAR100(data_root, train=True, label_mode='coarse').subset(64)
    test = g.CIFAR100(data_root, train=False, label_mode='coarse').subset(32)
    mx.random.seed(0)
    train(g.get_cifar_net('mobilenet', 11, 0.25, classes=100, initialize=True), coarse, test, str(tmp_path),
          config, progress=False, model_name='mobilenet_11_0.25')
    with pytest.raises(CheckpointMismatchError,
                       match="label set 'cifar100-coarse', now 'cifar100-fine'"):
        train(g.get_cifar_net('mobilenet', 11, 0.25, classes=100, initialize=True), fine, test, str(tmp_path),
              config, progress=False, model_name='mobilenet_11_0.25')


def test_labels_the_network_cannot_predict_are_refused(data_root, tmp_path):
    fine = g.CIFAR100(data_root, train=True, label_mode='fine').subset(64)
    test = g.CIFAR100(data_root, train=False, label_mode='fine').subset(32)
    with pytest.raises(ValueError, match=r'the train set \(cifar100-fine\) has labels 0\.\.\d+, '
                                         r'but the network has 10 outputs'):
        train(_net(), fine, test, str(tmp_path / 'run'), TrainConfig(**TINY), progress=False)
    assert not os.path.exists(tmp_path / 'run')


def test_divergence_stops_at_once_and_keeps_the_last_good_checkpoint(tiny_data, tmp_path,
                                                                    monkeypatch):
    from gluon_pydmn import train as train_module
    run = str(tmp_path)
    train(_net(), *tiny_data, run, TrainConfig(**TINY), stop_after=1, progress=False)
    good = _params_file(run, 'epoch-0001.params')

    def poisoned_mixup(x, *args):  # as after a too-large step: the loss turns NaN
        mixed, soft = mixup(x, *args)
        return mixed * float('nan'), soft
    monkeypatch.setattr(train_module, 'mixup', poisoned_mixup)
    with pytest.raises(TrainingDivergedError,
                       match=r'epoch 2 at step 1 of 4: the loss is nan.*checkpoint of epoch 1'):
        train(_net(), *tiny_data, run, TrainConfig(**TINY), progress=False)
    state = json.loads((tmp_path / 'state.json').read_text())
    assert state['epoch'] == 1 and len(state['history']) == 1
    assert _params_file(run, 'epoch-0001.params') == good
    assert not os.path.exists(os.path.join(run, 'final.params'))


def _params_file(run, name):
    with open(os.path.join(run, name), 'rb') as f:
        return f.read()


def test_a_run_folder_in_use_is_refused_naming_the_holder(tiny_data, tmp_path):
    from gluon_pydmn.checkpoint import RunFolderLock
    with RunFolderLock(str(tmp_path)):
        with pytest.raises(RunFolderBusyError, match='process %d' % os.getpid()):
            train(_net(), *tiny_data, str(tmp_path), TrainConfig(**TINY), progress=False)
    assert os.listdir(tmp_path) == []


@pytest.fixture
def read_only(tmp_path):
    """Make a folder read-only even for root (the immutable attribute)."""
    folders = []

    def make(path):
        subprocess.run(['chattr', '+i', str(path)], check=True)
        folders.append(path)
    yield make
    for path in folders:
        subprocess.run(['chattr', '-i', str(path)], check=True)


def test_read_only_run_folder_fails_before_training_and_finished_runs_write_nothing(
        tiny_data, tmp_path, read_only):
    unfinished, finished = tmp_path / 'unfinished', tmp_path / 'finished'
    config = TrainConfig(**TINY)
    train(_net(), *tiny_data, str(unfinished), config, stop_after=1, progress=False)
    history = train(_net(), *tiny_data, str(finished), config, progress=False)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished.iterdir()}
    read_only(unfinished)
    read_only(finished)
    assert RunFolder(finished).is_finished() and not RunFolder(unfinished).is_finished()
    messages = []
    assert train(_net(), *tiny_data, str(finished), config, progress=False,
                 log=messages.append) == history
    assert messages == ['%s is finished (2 of 2 epochs): nothing to do' % finished]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished.iterdir()} == before
    with pytest.raises(PermissionError, match='cannot write into the run folder'):
        train(_net(), *tiny_data, str(unfinished), config, progress=False,
              log=messages.append)
    assert not any(m.startswith('epoch') for m in messages)


def test_checkpoints_are_readable_by_others(tiny_data, tmp_path):
    train(_net(), *tiny_data, str(tmp_path), TrainConfig(**dict(TINY, epochs=1)), progress=False)
    umask = os.umask(0o022)
    os.umask(umask)
    for name in os.listdir(tmp_path):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


@pytest.mark.parametrize('damage', ['state.json garbled', 'state.json empty', 'params missing',
                                    'params truncated', 'states truncated'])
def test_damaged_checkpoints_are_named(tiny_data, tmp_path, damage):
    config = TrainConfig(**TINY)
    train(_net(), *tiny_data, str(tmp_path), config, stop_after=1, progress=False)
    what, how = damage.split()
    path = tmp_path / {'state.json': 'state.json', 'params': 'epoch-0001.params',
                       'states': 'epoch-0001.states'}[what]
    if how == 'missing':
        path.unlink()
    else:
        data = path.read_bytes()
        path.write_bytes({'garbled': data[:len(data) // 2], 'empty': b'',
                          'truncated': data[:len(data) // 2]}[how])
    expected = {'state.json': r'cannot read the checkpoint index .*state\.json',
                'missing': r'names .*epoch-0001\.params, which is missing',
                'truncated': r'cannot load .*epoch-0001\.%s .*truncated or damaged' % what}
    with pytest.raises(CheckpointError, match=expected.get(what, expected.get(how))):
        train(_net(), *tiny_data, str(tmp_path), config, progress=False)


@pytest.mark.parametrize('logits, labels, expected', [
    ([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 0, 0], 100 / 3),
    ([[np.nan, 0.0], [0.0, np.nan], [1.0, 0.0]], [0, 0, 0], 200 / 3),  # NaN rows are wrong
    ([[np.inf, 0.0]], [0], 100.0),
])
def test_error_rate_never_scores_non_finite_logits(logits, labels, expected):
    assert error_rate(np.array(logits), np.array(labels)) == pytest.approx(expected)


def test_error_rate_refuses_labels_beyond_the_outputs():
    with pytest.raises(ValueError, match='labels 0..19 cannot be scored against 10 outputs'):
        error_rate(np.zeros((2, 10)), np.array([0, 19]))


def test_training_set_smaller_than_a_batch_is_an_error(tiny_data, tmp_path):
    with pytest.raises(ValueError, match='smaller than one batch'):
        train(_net(), tiny_data[0].subset(16), tiny_data[1], str(tmp_path),
              TrainConfig(**TINY), progress=False)


def test_train_script_writes_a_resumable_run(data_root, tmp_path, capsys):
    out = str(tmp_path / 'run')
    args = ['--model', 'mobilenet_29_0.5', '--data-root', data_root, '--out', out, '--epochs', '2',
            '--batch-size', '64', '--limit-train', '128', '--no-progress', '--mixup-alpha', '0']
    history = train_script.main(args + ['--stop-after', '1'])
    assert len(history) == 1 and 'test error' in capsys.readouterr().out
    with open(os.path.join(out, 'summary.md')) as f:  # an unfinished run has its summary too
        assert '1 of 2 epochs done' in f.read()
    assert not os.path.exists(os.path.join(out, 'final.params'))
    history = train_script.main(args)
    assert len(history) == 2 and 'resuming' in capsys.readouterr().out
    with open(os.path.join(out, 'state.json')) as f:
        state = json.load(f)
    assert state['model'] == 'mobilenet_29_0.5' and state['epoch'] == 2
    assert state['config']['batch_size'] == 64
    net = g.get_model('mobilenet_29_0.5', initialize=True)
    net.load_parameters(os.path.join(out, 'final.params'))  # loads into a fresh zoo model
    with open(os.path.join(out, 'summary.md')) as f:
        summary = f.read()
    assert 'gluon-pydmn train --model mobilenet_29_0.5' in summary
    assert '128 training images' in summary
    assert '2 of 2 epochs done' in summary
    paper = table3_error(load_paper_tables(), 'MobileNet-29-0.5', 'cifar10')
    assert paper == 8.63 and "The paper's Table 3 gives 8.63% for this network" in summary
    result = run_result(history)
    assert ('Test error: %.2f%% at the last epoch (2), %.2f%% at the best epoch (%d).'
            % (history[-1]['test_error'], result['best_error'], result['best_epoch'])) in summary
    assert "Schema: a custom schema (2 epochs" in summary
    for row in history:
        assert '| %d | 0.1 | no | %.4f | %.2f |\n' % (row['epoch'], row['train_loss'],
                                                     row['test_error']) in summary
    machine = machine_line(machine_info(mx.cpu(), onnx=False))
    assert [r['machine'] for r in RunFolder(out).history()] == [machine, machine]
    assert '- epochs 1-2 on %s: median ' % machine in summary
    assert '%d OpenMP threads' % engine_threads() in machine and 'ONNX' not in machine
    train_script.main(args)  # finished: nothing more to do
    assert 'is finished (2 of 2 epochs): nothing to do' in capsys.readouterr().out


def test_interrupted_train_script_leaves_an_up_to_date_summary(data_root, tmp_path, monkeypatch):
    """Killed during epoch 2 (here: its test pass raises), the run keeps epoch 1's summary."""
    from gluon_pydmn import train as train_module
    calls = []

    def predict_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return predict(*args, **kwargs)
    monkeypatch.setattr(train_module, 'predict', predict_then_interrupt)
    out = str(tmp_path / 'run')
    with pytest.raises(KeyboardInterrupt):
        train_script.main(['--model', 'mobilenet_29_0.5', '--data-root', data_root, '--out', out,
                           '--epochs', '3', '--batch-size', '64', '--limit-train', '128',
                           '--no-progress'])
    with open(os.path.join(out, 'summary.md')) as f:
        summary = f.read()
    assert '1 of 3 epochs done' in summary and '\n| 1 | 0.1 | no |' in summary
    assert '\n| 2 |' not in summary


@pytest.mark.parametrize('old_format', ['column', 'weights'])
def test_a_migrated_run_with_a_stale_input_batchnorm_resumes_with_its_epochs_marked(
        data_root, tmp_path, old_format):
    """A checkpoint of an older loop, its input BatchNorm's running statistics still 0 and 1:
    marked by a ``stale_input_bn`` history column, or (older still) told by its weights. The
    migration turns it into a caveat of those epochs; the run then resumes, the caveat marks
    its epochs in the summary and the best-epoch choice, and the resumed run's input
    BatchNorm is trained."""
    out = str(tmp_path / 'run')
    args = ['--model', 'mobilenet_29_0.5', '--data-root', data_root, '--out', out, '--epochs', '3',
            '--batch-size', '64', '--limit-train', '128', '--no-progress', '--mixup-alpha', '0']
    train_script.main(args + ['--stop-after', '1'])
    state = json.loads(open(os.path.join(out, 'state.json')).read())
    params = os.path.join(out, state['params'])
    assert not input_batchnorm_untrained(mx.nd.load(params))
    reset_input_batchnorm(params)  # make it look like a checkpoint of the old loop
    if old_format == 'column':
        state['history'][0]['stale_input_bn'] = True
    record = json.loads(open(os.path.join(out, 'run.json')).read())
    for key in ('caveats', 'command', 'note', 'test_images'):
        del record[key]
    with open(os.path.join(out, 'state.json'), 'w') as f:
        json.dump(state, f)
    with open(os.path.join(out, 'run.json'), 'w') as f:
        json.dump(record, f)
    assert input_batchnorm_untrained(mx.nd.load(params))
    with pytest.warns(g.StaleInputBatchNormWarning, match='input BatchNorm still at its initial'):
        g.get_model('mobilenet_29_0.5', checkpoint_path=params)
    changes = migrate_run_folder(out)
    assert 'epochs 1-1 marked as tested with a stale input BatchNorm' in changes
    assert migrate_run_folder(out) == []  # now current
    assert RunFolder(out).caveats() == [Caveat(1, 1, RunFolder(out).caveats()[0].text)]
    assert 'gluon-pydmn train --model mobilenet_29_0.5' in RunFolder(out).record()['command']
    history = train_script.main(args)
    assert [r['epoch'] for r in history] == [1, 2, 3]
    assert not any('stale_input_bn' in r for r in history)
    assert not input_batchnorm_untrained(mx.nd.load(os.path.join(out, 'final.params')))
    with warnings.catch_warnings():
        warnings.simplefilter('error', g.StaleInputBatchNormWarning)
        g.load_trained('mobilenet_29_0.5', checkpoint_path=os.path.join(out, 'final.params'))
    assert RunFolder(out).result()['best_epoch'] in (2, 3)
    with open(os.path.join(out, 'summary.md')) as f:
        summary = f.read()
    assert '| 1 | 0.1 | no | %.4f | %.2f† |' % (history[0]['train_loss'],
                                                history[0]['test_error']) in summary
    assert 'The best epoch is taken from the epochs without caveats' in summary
    assert '† Epoch 1 was tested with the input BatchNorm still at its initial' in summary


def test_train_script_names_valid_models(data_root, tmp_path):
    with pytest.raises(ValueError, match='pydmobilenet_concat_56_0.75'):
        train_script.main(['--model', 'pydmobilenet_56', '--data-root', data_root,
                           '--out', str(tmp_path)])


def test_training_splits_batches_across_devices(tiny_data, tmp_path):
    """Two contexts (CPU here, GPUs for users): the network moves there, replicas (and, after
    each epoch, BN running statistics) stay equal, the recorded test error is the saved
    checkpoint's, and the checkpoint resumes on one context."""
    contexts = [mx.cpu(0), mx.cpu(1)]
    config = TrainConfig(**TINY)
    net = _net()  # initialised on one context only
    run = str(tmp_path / 'run')
    history = train(net, *tiny_data, run, config, ctx=contexts, progress=False, stop_after=1)
    assert len(history) == 1 and np.isfinite(history[0]['train_loss'])
    params = net._collect_params_with_prefix()
    assert any(p.grad_req == 'null' and 'running_mean' in n for n, p in params.items())
    for name, p in params.items():
        first, second = (p.data(c).asnumpy() for c in contexts)
        assert np.array_equal(first, second), name
    saved = _net(seed=1)
    saved.load_parameters(os.path.join(run, 'epoch-0001.params'))
    saved.hybridize()
    logits = predict(saved, tiny_data[1].images, batch_size=32)
    assert error_rate(logits, tiny_data[1].labels) == history[0]['test_error']
    one = _net(seed=1)
    messages = []
    resumed = train(one, *tiny_data, run, config, progress=False, log=messages.append)
    assert 'after epoch 1 of 2' in messages[0] and [r['epoch'] for r in resumed] == [1, 2]
    with pytest.raises(ValueError, match='does not split evenly across 3 devices'):
        train(_net(), *tiny_data, str(tmp_path / 'other'), config, ctx=[mx.cpu(i) for i in range(3)],
              progress=False)


def test_split_batch_loss_is_the_batch_mean(tiny_data, tmp_path):
    """With mixup off and lr 0, one epoch's loss on two devices equals the one-device loss up to
    BatchNorm's per-device statistics: compare against the two half-batch losses directly."""
    config = TrainConfig(**dict(TINY, epochs=1, learning_rate=0.0, mixup_alpha=0.0,
                                batch_size=128))
    contexts = [mx.cpu(0), mx.cpu(1)]
    mx.random.seed(0)
    net = g.get_cifar_net('mobilenet', 11, 0.5, ctx=contexts, initialize=True)
    history = train(net, *tiny_data, str(tmp_path), config, ctx=contexts, progress=False)
    # recompute the epoch's single batch by hand, each half on its own device
    from gluon_pydmn.data import CIFAR_MEAN, CIFAR_STD
    from gluon_pydmn.train import _batches, _epoch_rng
    x, y = next(_batches(tiny_data[0], 128, _epoch_rng(config.seed, 0), mx.cpu(),
                         (CIFAR_MEAN, CIFAR_STD)))
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    mx.random.seed(0)
    fresh = g.get_cifar_net('mobilenet', 11, 0.5, initialize=True)
    fresh.hybridize()
    with mx.autograd.record():  # training-mode BatchNorm, as in the epoch
        halves = [loss_fn(fresh(x[i:i + 64]), y[i:i + 64]).sum().asscalar() for i in (0, 64)]
    assert history[0]['train_loss'] == pytest.approx(sum(halves) / 128, rel=1e-5)


def test_train_script_rejects_bad_gpu_ids(capsys):
    for bad in ('gpu:zero', '', 'gpu:0,,1', 'gpu:1,1', 'gpu:-1', '0,1'):
        with pytest.raises(SystemExit):
            cli.parse_command(train_script, ['--model', 'mobilenet_29_0.5', '--ctx', bad])
        assert '(distinct GPU ids), got %r' % bad in capsys.readouterr().err
    parse = lambda *argv: cli.parse_command(train_script,  # noqa: E731
                                            ['--model', 'mobilenet_29_0.5'] + list(argv))
    assert parse('--ctx', 'gpu:0,1').ctx == [mx.gpu(0), mx.gpu(1)]
    assert parse().ctx == [mx.cpu()]


def test_train_script_compresses_the_schema_and_says_so(data_root, tmp_path):
    out = str(tmp_path / 'run')
    history = train_script.main(['--model', 'mobilenet_29_0.5', '--data-root', data_root,
                                 '--out', out, '--schedule-scale', '0.01', '--batch-size', '64',
                                 '--limit-train', '128', '--no-progress'])
    # 320, 150, 225 and 20 epochs scaled by 0.01: 3 epochs, decays at 2 and 2, last epoch unmixed
    assert [(r['epoch'], r['mixup']) for r in history] == [(1, True), (2, True), (3, False)]
    assert [r['lr'] for r in history] == pytest.approx([0.1, 0.1, 0.001])
    run, saved = RunFolder(out).record(), RunFolder(out).history()
    assert [r['epoch'] for r in saved] == [1, 2, 3]
    assert [r['test_error'] for r in saved] == pytest.approx([r['test_error'] for r in history])
    assert run['model'] == 'mobilenet_29_0.5' and run['label_set'] == 'cifar10'
    assert run['train_images'] == 128 and run['params'] == g.count_params(g.get_model('mobilenet_29_0.5'))
    assert run['config']['schedule_scale'] == 0.01 and run['config']['epochs'] == 3
    with open(os.path.join(out, 'summary.md')) as f:
        assert "Schema: the paper's schema compressed to 0.01 of its length (3 epochs" in f.read()


def test_train_script_warns_when_epochs_leave_the_decays_behind(data_root, tmp_path):
    args = ['--model', 'mobilenet_29_0.5', '--data-root', data_root, '--out', str(tmp_path),
            '--epochs', '1', '--batch-size', '64', '--limit-train', '64', '--no-progress']
    with pytest.warns(UserWarning, match='--epochs 1 keeps .*: set --lr-decay-epochs'):
        train_script.main(args)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        config_from_args(cli.parse_command(train_script, args + ['--lr-decay-epochs']))  # no decay
        config_from_args(cli.parse_command(train_script, args[:6]))


def test_checkpoint_from_before_a_new_schema_field_resumes(tiny_data, tmp_path):
    """A run folder written before ``TrainConfig`` gained a field, and before the label set and
    training-set size were recorded, resumes (with the default and the run's values)."""
    config = TrainConfig(**TINY)
    train(_net(), *tiny_data, str(tmp_path), config, stop_after=1, progress=False)
    path = tmp_path / 'state.json'
    state = json.loads(path.read_text())
    del state['config']['schedule_scale']  # entries older run folders do not have
    del state['label_set'], state['train_images']
    path.write_text(json.dumps(state))
    history = train(_net(), *tiny_data, str(tmp_path), config, progress=False)
    assert [r['epoch'] for r in history] == [1, 2]


def test_a_saved_schema_round_trips_and_unknown_fields_are_refused():
    config = TrainConfig.compressed(0.1, seed=3)
    saved = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(saved) == config
    del saved['schedule_scale']  # a field older run folders lack takes its default
    assert TrainConfig.from_dict(saved).schedule_scale == 1.0
    with pytest.raises(ConfigError, match=r'fields this version .* does not know \(warmup\)'):
        TrainConfig.from_dict(dict(saved, warmup=5))


def test_a_run_folder_gives_back_its_spec_and_names_a_damaged_file(tiny_data, tmp_path):
    config = TrainConfig(**TINY)
    train(_net(), *tiny_data, str(tmp_path), config, stop_after=1, progress=False,
          model_name='mobilenet_29_0.5')
    expected = RunSpec('mobilenet_29_0.5', 'cifar10', config, train_images=len(tiny_data[0]),
                       test_images=len(tiny_data[1]))
    assert RunSpec.from_folder(str(tmp_path)) == expected == RunFolder(tmp_path).spec()
    assert RunSpec.from_record(expected.to_record()) == expected
    (tmp_path / 'run.json').write_text('{"model": "mobilenet_29_0.5"')
    with pytest.raises(FileNotFoundError, match='cannot read .*run.json'):
        RunSpec.from_folder(str(tmp_path))
    (tmp_path / 'state.json').write_text('{"epoch": "1"}')
    with pytest.raises(FileNotFoundError, match='cannot read the checkpoint index .*state.json'):
        RunFolder(tmp_path).history()
    with pytest.raises(FileNotFoundError, match='holds no run'):
        RunSpec.from_folder(str(tmp_path / 'elsewhere'))


def test_a_folder_without_a_finished_epoch_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match='has no finished epoch'):
        RunFolder(tmp_path).history()
    with pytest.raises(FileNotFoundError, match='holds no weights'):
        RunFolder(tmp_path).weights()
    assert not RunFolder(tmp_path).is_finished()


@pytest.mark.parametrize('option', ['--limit-train', '--stop-after'])
@pytest.mark.parametrize('value', ['0', '-5', 'x'])
def test_train_script_refuses_counts_below_one(option, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_command(train_script, ['--model', 'mobilenet_29_0.5', option, value])
    assert exit_info.value.code == 2
    assert 'expected a whole number of at least 1, got %r' % value in capsys.readouterr().err


def test_train_script_resumes_a_run_folder_with_its_own_options(data_root, tmp_path, capsys):
    out = str(tmp_path / 'run')
    first = train_script.main(['--model', 'mobilenet_29_0.5', '--data-root', data_root, '--out', out,
                               '--schedule-scale', '0.00625', '--batch-size', '64',
                               '--limit-train', '128', '--stop-after', '1', '--no-progress'])
    assert len(first) == 1
    history = train_script.main(['--resume', out, '--data-root', data_root, '--no-progress'])
    assert [r['epoch'] for r in history] == [1, 2] and history[0] == first[0]
    assert 'resuming %s after epoch 1 of 2' % out in capsys.readouterr().out
    state = json.loads(open(os.path.join(out, 'state.json')).read())
    assert state['train_images'] == 128 and state['config']['batch_size'] == 64
    with pytest.raises(UserError, match='is a run of mobilenet_29_0.5, not of resnet_29_0.5'):
        train_script.main(['--resume', out, '--model', 'resnet_29_0.5'])
    with pytest.raises(UserError, match=r'holds no run \(no run.json'):
        train_script.main(['--resume', str(tmp_path)])
    with pytest.raises(UserError, match='give --model NAME .* or --resume DIR'):
        train_script.main([])
