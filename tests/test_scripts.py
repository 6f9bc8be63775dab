"""gluon-pydmn evaluate and gluon-pydmn export on real data and the authors' weights, and
the loading of one's own checkpoints they rest on (get_model(checkpoint_path=), load_trained)."""
import glob
import os

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn import cli
from gluon_pydmn.commands import evaluate as evaluate_script, export as export_script
from gluon_pydmn.evaluate import LabelSetMismatchError, evaluate
from gluon_pydmn.model_zoo import MODEL_CFGS, load_trained
from gluon_pydmn.reproduce.paper import load_paper_tables, table3_error
from gluon_pydmn.run_folder import RunFolder

from conftest import reset_input_batchnorm

MODEL = 'pydmobilenet_concat_29_0.25'


def _paper_error(name, label_set):
    return table3_error(load_paper_tables(), MODEL_CFGS[name].paper_name, label_set)


def _common(data_root, release_root, *extra):
    return ['--model', MODEL, '--data-root', data_root, '--weights-root', release_root] + list(extra)


@pytest.mark.parametrize('dataset', ['cifar10', 'cifar100-coarse'])
def test_evaluate_script_gives_the_papers_error(dataset, data_root, release_root, capsys):
    result = evaluate_script.main(_common(data_root, release_root, '--dataset', dataset,
                                          '--deploy', '--no-progress'))
    assert result['error'] == pytest.approx(_paper_error(MODEL, dataset), abs=0.005)
    assert result['deploy_error'] == result['error'] and result['deploy_max_diff'] <= 1e-4
    out = capsys.readouterr().out
    assert 'top-1 error %.2f%%' % result['error'] in out and 'deploy form' in out


def _user_error(main, argv, capsys):
    """What ``cli.run(main, argv)`` prints on stderr; it must exit with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_no_released_weights_for_fine_labels(data_root, release_root, capsys):
    with pytest.raises(LabelSetMismatchError, match="20 coarse superclasses.*'cifar100-coarse'"):
        load_trained(MODEL, 'cifar100-fine', root=release_root)
    err = _user_error(evaluate_script.main,
                      _common(data_root, release_root, '--dataset', 'cifar100-fine'), capsys)
    assert err.startswith("error: no released weights ") and "'cifar100-coarse'" in err
    err = _user_error(evaluate_script.main, ['--model', 'pydmobilenet_56', '--data-root', data_root],
                      capsys)
    assert err.startswith('error: unknown model ') and 'pydmobilenet_concat_56_0.75' in err
    assert 'Traceback' not in err


def test_recompute_bn_repairs_a_stale_input_batchnorm(data_root, release_root, tmp_path, capsys):
    """The authors' weights with the input BatchNorm at 0 and 1 (as our CPU loop left it before
    its fix) score far worse; recomputing the statistics brings back the paper's error."""
    path = str(tmp_path / 'stale.params')
    load_trained(MODEL, 'cifar10', root=release_root).save_parameters(path)
    reset_input_batchnorm(path)
    result = evaluate_script.main(['--model', MODEL, '--data-root', data_root, '--checkpoint',
                                   path, '--recompute-bn', '1280', '--no-progress'])
    paper = _paper_error(MODEL, 'cifar10')
    assert result['error'] > paper + 2
    assert result['recomputed_error'] == pytest.approx(paper, abs=0.5)
    assert ('statistics of its 39 BatchNorm layers recomputed over 1280 augmented training '
            'images: top-1 error %.2f%%' % result['recomputed_error']) in capsys.readouterr().out
    err = _user_error(evaluate_script.main, _common(data_root, release_root, '--recompute-bn',
                                                    '50001'), capsys)
    assert err.startswith('error: --recompute-bn 50001: the training set has only 50000 images')


def test_own_checkpoint_loads_and_scores_like_the_source(data_root, release_root, tmp_path,
                                                         capsys):
    source = load_trained(MODEL, 'cifar10', root=release_root)
    path = str(tmp_path / 'final.params')
    source.save_parameters(path)
    mine = load_trained(MODEL, 'cifar10', checkpoint_path=path)
    assert mine.pretrained_cfg is None
    x = mx.nd.array(np.random.RandomState(0).normal(size=(2, 3, 32, 32)))
    assert np.array_equal(mine(x).asnumpy(), source(x).asnumpy())
    capsys.readouterr()
    evaluate(mine, g.CIFAR10(data_root, train=False).subset(10))
    assert '%s on cifar10' % MODEL in capsys.readouterr().err  # the progress bar names the model
    result = evaluate_script.main(['--model', MODEL, '--data-root', data_root, '--checkpoint',
                                   path, '--no-progress'])
    assert result['error'] == pytest.approx(_paper_error(MODEL, 'cifar10'), abs=0.005)
    # the same file read as another label set's network (20 outputs) or as another model
    with pytest.raises(ValueError, match='as pydmobilenet_concat_29_0.25 with 100 outputs.*shape incompatible'):
        load_trained(MODEL, 'cifar100-coarse', checkpoint_path=path)
    with pytest.raises(ValueError, match='cannot load .* as pydmobilenet_add_29_0.25'):
        g.get_model('pydmobilenet_add_29_0.25', checkpoint_path=path)
    with pytest.raises(FileNotFoundError, match='final.params'):
        g.get_model(MODEL, checkpoint_path=str(tmp_path / 'missing.params'))
    with pytest.raises(ValueError, match='not both'):
        g.get_model(MODEL, pretrained=True, checkpoint_path=path)
    with pytest.raises(ValueError, match='cifar100-coarse'):
        load_trained(MODEL, 'cifar100')


def test_export_script_writes_files_that_give_the_same_logits(data_root, release_root, tmp_path,
                                                              cifar10_test):
    prefix = str(tmp_path / 'out' / 'concat29')
    files = export_script.main(_common(data_root, release_root, '--out', prefix,
                                       '--check-images', '200'))
    assert files['mxnet']['paths'] == (prefix + '-symbol.json', prefix + '-0000.params')
    assert files['onnx']['paths'] == (prefix + '.onnx',)
    assert all(f['max_diff'] <= 1e-4 for f in files.values())
    # the files stand alone: loaded without gluon_pydmn they classify real images as the source
    block = mx.gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
    onnx_model = g.export.OnnxModel(prefix + '.onnx')
    x = g.data.normalize_images(cifar10_test.images[-64:])
    reference = load_trained(MODEL, 'cifar10', root=release_root)(x).asnumpy()
    assert np.abs(block(x).asnumpy() - reference).max() <= 1e-4
    assert np.abs(onnx_model(x) - reference).max() <= 1e-4


def test_export_script_fails_when_an_export_differs(data_root, release_root, tmp_path):
    # folding BN changes float rounding, so no export matches its source bit for bit
    args = _common(data_root, release_root, '--out', str(tmp_path / 'm'), '--format', 'mxnet',
                   '--check-images', '50', '--tolerance', '0')
    with pytest.raises(SystemExit, match='mxnet export differs .* by more than 0'):
        export_script.main(args)


@pytest.mark.parametrize('argv, message', [
    (['--out', '{tmp}/'], 'expected a path prefix such as exported/concat56'),
    (['--out', '{tmp}'], 'expected a path prefix such as exported/concat56'),
    (['--out', '{tmp}/m', '--check-images', '-5'], 'expected a whole number of at least 1'),
    (['--out', '{tmp}/m', '--check-images', '0'], 'expected a whole number of at least 1'),
])
def test_export_script_refuses_bad_options(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_command(export_script, ['--model', 'mobilenet_29_0.5']
                          + [a.replace('{tmp}', str(tmp_path)) for a in argv])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_export_script_reports_an_unwritable_out_in_one_line(data_root, release_root, tmp_path,
                                                             capsys):
    blocked = tmp_path / 'a-file'
    blocked.write_text('not a folder')
    with pytest.raises(SystemExit) as info:
        cli.run(export_script.main, ['--model', 'mobilenet_29_0.5', '--data-root', data_root,
                                     '--weights-root', release_root,
                                     '--out', str(blocked / 'sub' / 'm')])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith('error: cannot write into %s' % (blocked / 'sub'))


def test_evaluate_script_refuses_batch_size_zero(capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_command(evaluate_script, ['--model', 'mobilenet_29_0.5', '--batch-size', '0'])
    assert info.value.code == 2 and 'at least 1' in capsys.readouterr().err


COMMITTED_WEIGHTS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'results', 'training', '*', 'final.params')))


@pytest.mark.parametrize('path', COMMITTED_WEIGHTS, ids=lambda p: p.split(os.sep)[-2])
def test_committed_final_weights_give_their_runs_last_epoch_error(path, data_root, capsys):
    """``gluon-pydmn evaluate --checkpoint RUN/final.params``, the network and label set read
    from the run folder, gives the test error the run recorded at its last epoch (to one test
    image: the epochs may have been tested on another CPU's kernels)."""
    assert len(COMMITTED_WEIGHTS) >= 4
    result = evaluate_script.main(['--checkpoint', path, '--data-root', data_root,
                                   '--no-progress'])
    folder = RunFolder(os.path.dirname(path))
    assert folder.is_finished()
    assert result['error'] == pytest.approx(folder.result()['last_error'], abs=0.011)
    assert capsys.readouterr().out.startswith(folder.record()['model'] + ' (')


def test_evaluate_without_a_model_needs_a_run_folders_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.run(evaluate_script.main, ['--no-progress'])
    assert 'which network? give its zoo name (--model NAME)' in capsys.readouterr().err
    loose = tmp_path / 'weights.params'
    loose.write_bytes(b'')
    with pytest.raises(SystemExit):
        cli.run(evaluate_script.main, ['--checkpoint', str(loose)])
    assert 'run.json names it' in capsys.readouterr().err
