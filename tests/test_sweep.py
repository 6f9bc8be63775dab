"""The Table 3 sweep on a local Ray: runs end to end, a killed worker, a run that fails, the
table, and a core package that does not need Ray."""
import csv
import json
import os
import signal
import subprocess
import sys

import pytest

import gluon_pydmn as g
from gluon_pydmn import cli
from gluon_pydmn.commands import sweep as sweep_script
from gluon_pydmn.reproduce.paper import load_paper_tables, table3_error
from gluon_pydmn.reproduce.sweep import head_width, run_folder, run_sweep, sweep_specs
from gluon_pydmn.reproduce.table3 import read_csv
from gluon_pydmn.run_folder import RunFolder
from gluon_pydmn.train import TrainConfig


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
MODELS = ['mobilenet_29_0.5', 'pydmobilenet_add_29_0.25']
TINY = ['--limit-train', '256', '--limit-test', '256']


@pytest.fixture(scope='module')
def local_ray():
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _csv_rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_the_core_package_does_not_import_ray():
    code = ('import sys, gluon_pydmn, gluon_pydmn.reproduce.sweep, gluon_pydmn.train_options; '
            'print("ray" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == 'False'


def test_heads_are_as_wide_as_the_authors():
    widths = [head_width(s) for s in ('cifar10', 'cifar100-coarse', 'cifar100-fine')]
    assert widths == [10, 100, 100]
    with pytest.raises(ValueError, match='unknown label set'):
        head_width('cifar100')


def test_sweep_trains_every_run_and_a_rerun_trains_nothing(local_ray, data_root, tmp_path, capsys):
    """The issue's command: 2 networks x 2 label sets, one epoch each."""
    out = str(tmp_path / 'sweep')
    args = ['--models'] + MODELS + ['--datasets', 'cifar10', 'cifar100-coarse', '--epochs', '1',
                                    '--data-root', data_root, '--out', out] + TINY
    with pytest.warns(UserWarning, match='--epochs 1 keeps'):  # --epochs alone warns
        rows = sweep_script.main(args)
    printed = capsys.readouterr().out
    assert [(r['zoo_name'], r['label_set'], r['status']) for r in rows] == [
        (m, s, 'finished') for m in MODELS for s in ('cifar10', 'cifar100-coarse')]
    assert printed.count(': epoch 1/1  lr 0.1') == 4 and '4 finished already' not in printed
    assert '[4/4 epochs; runs: 4 finished, 0 running, 0 failed, 0 queued]' in printed
    table = _csv_rows(os.path.join(out, 'table3-trained.csv'))
    assert len(table) == 4
    tables = load_paper_tables()
    released = {r['zoo_name']: r for r in read_csv(os.path.join(ROOT, 'results', 'table3.csv'))}
    for row in table:
        model, label_set = row['zoo_name'], row['label_set']
        folder = run_folder(out, model, label_set)
        run, history = RunFolder(folder).record(), RunFolder(folder).history()
        assert [h['epoch'] for h in history] == [1]
        assert run['train_images'] == 256 and run['label_set'] == label_set
        assert float(row['last_error']) == pytest.approx(history[0]['test_error'], abs=1e-4)
        assert (row['epochs_done'], row['epochs'], row['test_images']) == ('1', '1', '256')
        paper_name = g.model_zoo.MODEL_CFGS[model].paper_name
        assert row['model'] == paper_name
        assert float(row['paper_error']) == table3_error(tables, paper_name, label_set)
        column = 'cifar10_error' if label_set == 'cifar10' else 'cifar100_coarse_error'
        assert float(row['released_error']) == released[model][column]
        # the head is as wide as the authors': 100 outputs for the coarse labels too
        net = g.get_model(model, classes=head_width(label_set), initialize=True)
        net.load_parameters(os.path.join(folder, 'final.params'))
        with open(os.path.join(folder, 'summary.md')) as f:  # the run folder's own report
            summary = f.read()
        assert '256 training images, 1 of 1 epochs done' in summary
        assert 'Test error: %.2f%% at the last epoch (1)' % history[0]['test_error'] in summary
        with open(os.path.join(folder, 'sweep.json')) as f:
            task = json.load(f)
        # one OpenMP thread per run (--cpus-per-run 1), whatever the driver's environment says
        assert (task['omp_num_threads'], task['omp_threads']) == ('1', 1)
    with open(os.path.join(out, 'table3-trained.md')) as f:
        markdown = f.read()
    assert ('| MobileNet-29-0.5 | mobilenet_29_0.5 | cifar100-coarse | finished | 1 | 1 |'
            in markdown)
    csv_text = open(os.path.join(out, 'table3-trained.csv')).read()
    final = os.path.join(run_folder(out, MODELS[0], 'cifar10'), 'final.params')
    mtime = os.stat(final).st_mtime_ns

    with pytest.warns(UserWarning, match='--epochs 1 keeps'):
        again = sweep_script.main(args)
    printed = capsys.readouterr().out
    assert '4 finished already, 0 to train' in printed and 'epoch 1/1' not in printed
    assert again == rows
    assert open(os.path.join(out, 'table3-trained.csv')).read() == csv_text
    assert open(os.path.join(out, 'table3-trained.md')).read() == markdown
    assert os.stat(final).st_mtime_ns == mtime


def test_a_killed_worker_resumes_its_run_from_its_last_epoch(local_ray, data_root, tmp_path):
    config = TrainConfig(epochs=3, lr_decay_epochs=(2,), mixup_off_last_epochs=1)
    events, killed, lines = [], [], []

    def kill_after_the_first_epoch(event):
        events.append(event)
        if event['kind'] == 'epoch' and not killed:
            os.kill(event['pid'], signal.SIGKILL)
            killed.append((event['pid'], event['row']['epoch']))
    rows = run_sweep(sweep_specs(['mobilenet_29_0.5'], ['cifar10'], config, 256, 256),
                     str(tmp_path), data_root=data_root, on_event=kill_after_the_first_epoch,
                     log=lines.append)
    assert killed and killed[0][1] == 1
    assert [r['status'] for r in rows] == ['finished']
    starts = [e['pid'] for e in events if e['kind'] == 'start']
    assert len(starts) == 2 and starts[0] == killed[0][0] != starts[1]  # Ray retried the task
    resumed = [e['message'] for e in events if e['kind'] == 'log' and 'resuming' in e['message']]
    assert len(resumed) == 1
    # killed during epoch 2 (or, on a slow machine, just after it): resumed after the last one
    last = int(resumed[0].split('after epoch ')[1].split()[0])
    assert 1 <= last < 3 and resumed[0].endswith('after epoch %d of 3' % last)
    after = [e['row']['epoch'] for e in events if e['kind'] == 'epoch' and e['pid'] == starts[1]]
    assert after == list(range(last + 1, 4))
    history = RunFolder(run_folder(str(tmp_path), 'mobilenet_29_0.5', 'cifar10')).history()
    assert [h['epoch'] for h in history] == [1, 2, 3]  # no gap, no duplicate
    assert any(line.endswith('mobilenet_29_0.5 cifar10: finished') for line in lines)


def test_a_run_without_its_data_fails_with_its_reason_and_the_others_finish(local_ray, data_root,
                                                                            tmp_path, capsys):
    """A data root holding CIFAR-10 only, as on a node where CIFAR-100 was never set up."""
    partial = tmp_path / 'data'
    partial.mkdir()
    folder = 'cifar-10-batches-bin'
    os.symlink(os.path.join(data_root, folder), str(partial / folder))
    out = str(tmp_path / 'sweep')
    args = ['--models', 'mobilenet_29_0.5', '--datasets', 'cifar10', 'cifar100-coarse',
            '--schedule-scale', '0.003125', '--data-root', str(partial), '--out', out] + TINY
    rows = sweep_script.main(args)
    assert [r['status'] for r in rows][0] == 'finished'
    reason = 'failed: DataNotFoundError: CIFAR100 not found in %s' % partial
    assert rows[1]['status'].startswith(reason)
    assert 'cifar100-coarse: failed: DataNotFoundError' in capsys.readouterr().out
    table = _csv_rows(os.path.join(out, 'table3-trained.csv'))
    assert table[1]['status'] == rows[1]['status'] and table[1]['epochs_done'] == '0'
    assert table[1]['last_error'] == '' and table[0]['last_error'] != ''
    with open(os.path.join(out, 'table3-trained.md')) as f:
        assert '| cifar100-coarse | ' + reason in f.read()
    # the failure stays in the table written later without training
    collected = sweep_script.main(args + ['--collect-only'])
    assert collected == rows


def test_collect_only_lists_runs_not_started_with_the_papers_columns(tmp_path, capsys):
    out = str(tmp_path)
    rows = sweep_script.main(['--models', 'pydmobilenet_concat_56_0.75', '--datasets', 'cifar10',
                              'cifar100-coarse', 'cifar100-fine', '--out', out, '--collect-only'])
    assert 'table of 3 runs written' in capsys.readouterr().out
    assert [(r['status'], r['epochs_done'], r['epochs']) for r in rows] == [
        ('not started', 0, 320)] * 3
    tables = load_paper_tables()
    assert [r['paper_error'] for r in rows] == [
        table3_error(tables, 'PydMobileNet-Concat-56-0.75', 'cifar10'),
        table3_error(tables, 'PydMobileNet-Concat-56-0.75', 'cifar100-coarse'), None]
    released = {r['zoo_name']: r for r in read_csv(os.path.join(ROOT, 'results', 'table3.csv'))}
    row = released['pydmobilenet_concat_56_0.75']
    assert [r['released_error'] for r in rows] == [row['cifar10_error'],
                                                    row['cifar100_coarse_error'], None]
    with open(os.path.join(out, 'table3-trained.md')) as f:
        assert '"CIFAR-100" = 20 coarse labels' in f.read()


def test_collect_only_names_gluoncv_networks_by_the_papers_rows(tmp_path, capsys):
    rows = sweep_script.main(['--models', 'cifar_resnet20_v1', 'cifar_resnet110_v2',
                              'cifar_resnet110_v1', '--datasets', 'cifar10', 'cifar100-coarse',
                              '--out', str(tmp_path), '--collect-only'])
    assert [(r['model'], r['label_set'], r['paper_error']) for r in rows] == [
        ('ResNet-20', 'cifar10', 7.30), ('ResNet-20', 'cifar100-coarse', None),
        ('ResNet-110 (GluonCV model zoo)', 'cifar10', 4.50),  # Table 4's ResNet-110*
        ('ResNet-110 (GluonCV model zoo)', 'cifar100-coarse', None),
        ('cifar_resnet110_v1', 'cifar10', None), ('cifar_resnet110_v1', 'cifar100-coarse', None)]


def test_sweep_refuses_unknown_networks_and_bad_resources(capsys):
    with pytest.raises(ValueError, match='unknown network.*pydmobilenet_concat_56_0.75'):
        sweep_script.main(['--models', 'pydmobilenet_56', '--collect-only'])
    for option, value in (('--gpus-per-run', '-1'), ('--cpus-per-run', '0')):
        with pytest.raises(SystemExit):
            cli.parse_command(sweep_script, [option, value])
        assert 'expected' in capsys.readouterr().err


def test_a_network_named_twice_is_refused(capsys):
    with pytest.raises(SystemExit):
        sweep_script.cli.run(sweep_script.main, ['--models', 'mobilenet_29_0.5',
                                                 'mobilenet_29_0.5', '--collect-only'])
    assert 'error: --models names mobilenet_29_0.5 more than once' in capsys.readouterr().err


def test_a_rerun_with_other_options_than_its_runs_is_refused_before_training(tmp_path):
    """A run folder trained with --limit-test 500 and a rerun asking for 100: one line naming
    the difference, and no task started (Ray is not even needed)."""
    from gluon_pydmn.errors import CheckpointMismatchError
    from gluon_pydmn.run_folder import RunSpec
    config = TrainConfig(epochs=1)
    started = RunSpec('mobilenet_29_0.5', 'cifar10', config, train_images=256, test_images=500)
    folder = run_folder(str(tmp_path), 'mobilenet_29_0.5', 'cifar10')
    os.makedirs(folder)
    with open(os.path.join(folder, 'run.json'), 'w') as f:
        json.dump(dict(started.to_record(), caveats=[]), f)
    rerun = sweep_specs(['mobilenet_29_0.5'], ['cifar10'], config, 256, 100)
    with pytest.raises(CheckpointMismatchError, match=r'test_images 500 -> 100'):
        run_sweep(rerun, str(tmp_path), log=lambda line: None)
    assert sorted(os.listdir(folder)) == ['run.json']
    assert sweep_specs(['mobilenet_29_0.5'], ['cifar10'], config, 256)[0].matches(started)


def test_a_run_failing_on_its_damaged_checkpoint_makes_the_sweep_exit_non_zero(
        local_ray, data_root, tmp_path, capsys):
    out = str(tmp_path)
    args = ['--models', 'mobilenet_29_0.5', '--datasets', 'cifar10', 'cifar100-coarse',
            '--schedule-scale', '0.003125', '--data-root', data_root, '--out', out] + TINY
    assert sweep_script.exit_status(sweep_script.main(args)) == 0
    state = os.path.join(run_folder(out, 'mobilenet_29_0.5', 'cifar10'), 'state.json')
    with open(state) as f:
        text = f.read()
    with open(state, 'w') as f:
        f.write(text[:len(text) // 2])
    capsys.readouterr()
    rows = sweep_script.main(args)
    assert [r['status'].split(':')[0] for r in rows] == ['failed', 'finished']
    assert 'cannot read the checkpoint index' in rows[0]['status']
    assert sweep_script.exit_status(rows) == 1
    assert 'sweep done: 1 failed, 1 finished' in capsys.readouterr().out


def test_an_out_under_a_file_is_one_error_line(tmp_path, capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    with pytest.raises(SystemExit) as exit_info:
        sweep_script.cli.run(sweep_script.main, ['--models', 'mobilenet_29_0.5', '--out',
                                                 str(blocker / 'sweep'), '--epochs', '1'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: cannot create the sweep folder %s' % (blocker / 'sweep'))
