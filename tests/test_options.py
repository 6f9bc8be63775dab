"""Options are never silently ignored or wrong: conflicting resume options, schema values no
run can use, files that are not checkpoints, checkpoints of another run, a missing index root
and an image format matplotlib cannot write each end in one ``error: ...`` line (status 2)."""
import os
import shutil

import pytest

from gluon_pydmn import cli
from gluon_pydmn.commands import evaluate as evaluate_script, figure2 as plot_figure2
from gluon_pydmn.commands import runs as index_runs, train as train_script
from gluon_pydmn.errors import CheckpointError, CheckpointMismatchError, LabelSetMismatchError
from gluon_pydmn.model_zoo import load_trained
from gluon_pydmn.run_folder import RunFolder
from gluon_pydmn.schema import TrainConfig
from gluon_pydmn.train_options import config_from_args

MODEL, OTHER_MODEL = 'mobilenet_29_0.5', 'mobilenet_29_0.25'
TINY = ['--batch-size', '64', '--limit-train', '128', '--limit-test', '64', '--no-progress']


def _error(main, argv, capsys):
    """The one stderr line of ``cli.run(main, argv)``, which must exit with status 2."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), lines
    return lines[0]


@pytest.fixture(scope='module')
def runs(data_root, tmp_path_factory):
    """A 2-epoch run on cifar100-coarse stopped after its first epoch (``stopped``, with its
    epoch files) and a copy of it resumed to the end (``finished``, with final.params)."""
    root = tmp_path_factory.mktemp('runs')
    stopped, finished = str(root / 'stopped'), str(root / 'finished')
    train_script.main(['--model', MODEL, '--dataset', 'cifar100-coarse', '--data-root', data_root,
                       '--out', stopped, '--epochs', '2', '--lr-decay-epochs', '1',
                       '--stop-after', '1'] + TINY)
    shutil.copytree(stopped, finished)
    train_script.main(['--resume', finished, '--data-root', data_root, '--no-progress'])
    return {'stopped': stopped, 'finished': finished}


def test_resume_refuses_each_option_that_conflicts_with_the_run(runs, data_root, tmp_path,
                                                                capsys):
    run = runs['stopped']
    resume = ['--resume', run, '--data-root', data_root, '--no-progress']
    err = _error(train_script.main, resume + ['--epochs', '3'], capsys)
    assert err == ('error: --epochs 3 conflicts with the run in %s (--epochs 2): drop it to '
                   'resume it, or train a new run with --model %s and another --out'
                   % (run, MODEL))
    for option, given, recorded in [('--lr', '0.5', '0.1'), ('--seed', '4', '0'),
                                    ('--schedule-scale', '0.1', '1'),
                                    ('--dataset', 'cifar10', 'cifar100-coarse'),
                                    ('--limit-train', '256', '128'), ('--limit-test', '128', '64'),
                                    ('--mixup-alpha', '0', '1'), ('--batch-size', '32', '64'),
                                    ('--wd', '0', '0.0001'), ('--lr-decay-epochs', '2', '1'),
                                    ('--mixup-off-last-epochs', '0', '20'),
                                    ('--out', run + '-other', run)]:
        err = _error(train_script.main, resume + [option, given], capsys)
        assert err.startswith('error: %s %s conflicts with the run in %s (%s %s): drop it'
                              % (option, given, run, option, recorded)), err
    err = _error(train_script.main, resume + ['--epochs', '3', '--lr', '0.5'], capsys)
    assert ' and --lr 0.5 conflict with the run in ' in err and '(--epochs 2, --lr 0.1)' in err
    # the run's own values, --out naming its folder, and runtime options resume it
    copy = str(tmp_path / 'copy')
    shutil.copytree(run, copy)
    history = train_script.main(['--resume', copy, '--data-root', data_root, '--no-progress',
                                 '--epochs', '2', '--lr-decay-epochs', '1', '--lr', '0.1',
                                 '--dataset', 'cifar100-coarse', '--limit-train', '128',
                                 '--out', copy + '/', '--stop-after', '5'])
    assert [r['epoch'] for r in history] == [1, 2]
    assert RunFolder(copy).record()['config']['epochs'] == 2


@pytest.mark.parametrize('extra, message', [
    (['--mixup-alpha', 'nan'], 'error: --mixup-alpha nan: expected a finite number such as 1'),
    (['--lr', 'inf'], 'error: --lr inf: expected a finite number such as 0.1'),
    (['--lr-decay-epochs', '-3'], 'error: --lr-decay-epochs -3: decay epochs must be at least 1'),
    (['--epochs', '2', '--lr-decay-epochs', '1', '5'],
     'error: --lr-decay-epochs 1 5: a run of 2 epochs never reaches a decay at epoch 5 (a decay '
     'at epoch E lowers the learning rate after the first E epochs): give decay epochs below 2'),
    (['--epochs', '2', '--lr-decay-epochs', '2'],
     'error: --lr-decay-epochs 2: a run of 2 epochs never reaches a decay at epoch 2'),
    (['--schedule-scale', '0.1', '--lr-decay-epochs', '40'],
     'error: --lr-decay-epochs 40: a run of 32 epochs (--schedule-scale 0.1) never reaches'),
    (['--schedule-scale', '0.1', '--epochs', '2'],
     'error: --epochs 2 and --schedule-scale 0.1 both set the number of epochs: give '
     '--schedule-scale alone (0.1 gives 32 epochs)'),
])
def test_schema_values_no_run_can_use_are_refused(extra, message, data_root, tmp_path, capsys):
    out = tmp_path / 'run'
    err = _error(train_script.main, ['--model', MODEL, '--data-root', data_root,
                                     '--out', str(out)] + TINY + extra, capsys)
    assert err.startswith(message), err
    assert not out.exists()


@pytest.mark.parametrize('extra, warning', [
    (['--schedule-scale', '0.003125'],
     r'--schedule-scale 0.003125 gives 1 epochs, too few to reach its learning-rate decays \(at '
     r'epochs 1 and 1\): the run trains at --lr 0.1 throughout'),
    (['--epochs', '1'], r'--epochs 1 keeps .*: set --lr-decay-epochs$'),
    (['--epochs', '32'], r'--epochs 32 keeps .*: use --schedule-scale 0.1 to compress'),
])
def test_a_schema_too_short_for_its_decays_is_named(extra, warning):
    import argparse
    p = argparse.ArgumentParser()
    train_script.add_arguments(p)
    with pytest.warns(UserWarning, match=warning):
        config_from_args(p.parse_args(['--model', MODEL] + extra))


def test_the_schema_refuses_non_finite_numbers_and_early_decays():
    for bad in ({'mixup_alpha': float('nan')}, {'learning_rate': float('inf')},
                {'lr_decay_epochs': (0, 5)}):
        with pytest.raises(ValueError, match='finite number|at least 1'):
            TrainConfig(**bad)
    # a compressed schema whose length was overridden is a custom one
    assert TrainConfig.compressed(0.1, epochs=2).describe().startswith('a custom schema (2 ')
    assert TrainConfig.compressed(0.1, seed=2).describe().startswith("the paper's schema compr")
    assert TrainConfig.compressed(0.1).unreached_decays() == ()
    assert TrainConfig(epochs=2).unreached_decays() == (150, 225)


def test_evaluate_names_the_file_to_give_instead_of_a_non_checkpoint(runs, data_root, capsys):
    args = ['--model', MODEL, '--dataset', 'cifar100-coarse', '--data-root', data_root,
            '--no-progress', '--checkpoint']
    finished, final = runs['finished'], os.path.join(runs['finished'], 'final.params')
    err = _error(evaluate_script.main, args + [os.path.join(finished, 'state.json')], capsys)
    assert err == ("error: %s is the run folder's training state (its last epoch and history), "
                   'not a checkpoint (.params): give %s'
                   % (os.path.join(finished, 'state.json'), final))
    err = _error(evaluate_script.main, args + [finished], capsys)
    assert err == 'error: %s is a folder, not a checkpoint: give %s' % (finished, final)
    epoch = os.path.join(runs['stopped'], 'epoch-0001')
    err = _error(evaluate_script.main, args + [epoch + '.states'], capsys)
    assert err == ('error: %s.states is optimizer state (momentum), not network weights, not a '
                   "checkpoint (.params): give %s.params, its epoch's weights" % (epoch, epoch))
    err = _error(evaluate_script.main, args + [runs['stopped']], capsys)
    assert err.endswith("is a folder, not a checkpoint: give a .params file: a run folder's "
                        'final.params, or its epoch-NNNN.params while the run is unfinished')
    for path in (final, epoch + '.params'):  # the weights themselves score
        assert 0 <= evaluate_script.main(args + [path])['error'] <= 100


def test_a_checkpoint_is_refused_for_another_label_set_or_network_than_its_run(
        runs, data_root, tmp_path, capsys):
    path = os.path.join(runs['finished'], 'final.params')
    err = _error(evaluate_script.main, ['--model', MODEL, '--dataset', 'cifar100-fine',
                                        '--data-root', data_root, '--checkpoint', path], capsys)
    assert err == ('error: %s was trained on cifar100-coarse labels (its run.json), not '
                   'cifar100-fine: evaluate it on its own labels with --dataset '
                   "cifar100-coarse (label_set='cifar100-coarse')" % path)
    with pytest.raises(LabelSetMismatchError, match="label_set='cifar100-coarse'"):
        load_trained(MODEL, 'cifar100-fine', checkpoint_path=path)
    with pytest.raises(CheckpointMismatchError, match='checkpoint of %s .*not of %s'
                       % (MODEL, OTHER_MODEL)):
        load_trained(OTHER_MODEL, 'cifar100-coarse', checkpoint_path=path)
    # outside a run folder the file loads as any label set with the same head, as before
    alone = tmp_path / 'alone.params'
    alone.write_bytes(open(path, 'rb').read())
    assert load_trained(MODEL, 'cifar100-fine', checkpoint_path=str(alone)).classes == 100
    with pytest.raises(CheckpointError, match='is a folder, not a checkpoint: give a .params'):
        load_trained(MODEL, 'cifar10', checkpoint_path=str(tmp_path))


def test_index_refuses_a_missing_root_and_figure2_an_unwritable_format(runs, tmp_path, capsys):
    missing = str(tmp_path / 'nowhere')
    err = _error(index_runs.main, ['--root', missing], capsys)
    assert err == ('error: --root %s: no such folder; give the folder holding the run folders '
                   '(default results/training)' % missing)
    out = tmp_path / 'curves.xyz'
    err = _error(plot_figure2.main, ['--runs', runs['finished'], '--out', str(out)], capsys)
    assert err.startswith('error: cannot write %s: matplotlib cannot write .xyz files; give a '
                          'file ending in one of ' % out) and '.png' in err and '.pdf' in err
    assert os.listdir(str(tmp_path)) == []
