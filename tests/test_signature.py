"""The fit-and-confidence signature of trained weights (gluon-pydmn signature), on real data."""
import math
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_pydmn.catalog import display_name
from gluon_pydmn.commands import signature as signature_script, train as train_script
from gluon_pydmn.reproduce.signature import COLUMNS, blend_pairs, prediction_signature, weight_norms
from gluon_pydmn.run_folder import Caveat, RunFolder
from gluon_pydmn.errors import NotARunFolderError



class ConstantLogits(mx.gluon.Block):
    """The same logits for every image."""

    def __init__(self, logits):
        super().__init__()
        self.logits = np.asarray(logits, dtype=np.float32)

    def forward(self, x):
        return mx.nd.array(np.tile(self.logits, (x.shape[0], 1)), ctx=x.context)


@pytest.fixture(scope='module')
def test_subset(cifar10_test):
    return cifar10_test.subset(600)


def test_blends_are_rounded_means_of_consecutive_images_with_different_labels(test_subset):
    images, labels = test_subset.images, np.asarray(test_subset.labels)
    blended, first, second = blend_pairs(images, labels, pairs=50)
    assert blended.dtype == np.uint8 and blended.shape == (50, 32, 32, 3)
    assert (first != second).all()
    starts = np.flatnonzero(labels[:-1] != labels[1:])[:50]
    assert (first == labels[starts]).all() and (second == labels[starts + 1]).all()
    mean = (images[starts].astype(int) + images[starts + 1]) / 2
    assert np.abs(blended - mean).max() <= 0.5


def test_uniform_logits(test_subset):
    labels = np.asarray(test_subset.labels)
    s = prediction_signature(ConstantLogits(np.zeros(10)), test_subset, test_subset, pairs=100)
    assert s['test_error'] == pytest.approx(100 * np.mean(labels != 0))  # ties go to class 0
    assert s['train_error'] == s['test_error']
    assert s['test_nll'] == pytest.approx(math.log(10), abs=1e-6)
    assert s['blend_loss'] == pytest.approx(math.log(10), abs=1e-6)
    assert s['confidence'] == pytest.approx(0.1) and s['sure_share'] == 0


def test_certain_logits(test_subset):
    """Always class 3, with a top probability of 1 / (1 + 9 e^-20)."""
    labels = np.asarray(test_subset.labels)
    s = prediction_signature(ConstantLogits([0, 0, 0, 20, 0, 0, 0, 0, 0, 0]), test_subset,
                             pairs=100)
    log_z = math.log(math.exp(20) + 9)
    nll = np.where(labels == 3, log_z - 20, log_z)
    _, first, second = blend_pairs(test_subset.images, labels, 100)
    blend = 0.5 * (np.where(first == 3, log_z - 20, log_z) + np.where(second == 3, log_z - 20, log_z))
    assert s['train_error'] is None
    assert s['test_error'] == pytest.approx(100 * np.mean(labels != 3))
    assert s['test_nll'] == pytest.approx(nll.mean(), rel=1e-6)
    assert s['blend_loss'] == pytest.approx(blend.mean(), rel=1e-6)
    assert s['confidence'] == pytest.approx(1 / (1 + 9 * math.exp(-20)))
    assert s['sure_share'] == 100


def test_weight_norms_sum_kernels_and_scales_only():
    net = mx.gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(mx.gluon.nn.Conv2D(4, 3, in_channels=3), mx.gluon.nn.BatchNorm(in_channels=4),
                mx.gluon.nn.Dense(10, in_units=36))
    net.initialize()
    values = {'_weight': 2.0, '_gamma': 3.0, '_bias': 100.0, '_beta': 100.0,
              '_running_mean': 100.0, '_running_var': 100.0}
    for name, param in net.collect_params().items():
        param.set_data(mx.nd.full(param.shape, next(v for k, v in values.items()
                                                    if name.endswith(k))))
    # conv 4x3x3x3 and dense 10x36 kernels of 2; four BatchNorm scales of 3
    assert weight_norms(net) == {'weight_sq': (108 + 360) * 4.0, 'gamma_sq': 4 * 9.0}


def test_batchnorm_scales_start_at_one_and_end_far_below(release_root):
    from gluon_pydmn.model_zoo import get_model, load_trained
    fresh = get_model('pydmobilenet_concat_29_0.25', initialize=True)
    channels = sum(p.shape[0] for n, p in fresh.collect_params().items() if n.endswith('_gamma'))
    assert channels == 2115 and weight_norms(fresh)['gamma_sq'] == channels
    trained = weight_norms(load_trained('pydmobilenet_concat_29_0.25', 'cifar10',
                                        root=release_root))
    # 320 epochs of weight decay leave the authors' scales at about a third of 1 on average
    assert trained['gamma_sq'] == pytest.approx(271.5, abs=0.05)
    assert trained['weight_sq'] == pytest.approx(1002.6, abs=0.05)


@pytest.fixture(scope='module')
def small_run(data_root, tmp_path_factory):
    """A PydMobileNet trained 2 epochs on 128 images, without mixup."""
    folder = str(tmp_path_factory.mktemp('runs') / 'pyd-run')
    train_script.main(['--model', 'pydmobilenet_concat_29_0.25', '--data-root', data_root,
                       '--out', folder, '--epochs', '2', '--lr-decay-epochs', '1',
                       '--mixup-alpha', '0', '--batch-size', '64', '--limit-train', '128',
                       '--no-progress'])
    return folder


def test_script_puts_the_authors_weights_beside_the_run(small_run, data_root, release_root,
                                                        tmp_path, monkeypatch):
    get_dataset = signature_script.get_dataset  # 500 images of each set keep the test short
    monkeypatch.setattr(signature_script, 'get_dataset', lambda name, train, root: get_dataset(
        name, train=train, root=root).subset(500))
    out = str(tmp_path / 'signature.md')
    rows = signature_script.main(['--runs', small_run, '--pairs', '100', '--out', out,
                                  '--data-root', data_root, '--weights-root', release_root])
    authors, ours = rows
    assert authors['weights'] == "the authors' release"
    assert ours['weights'] == 'ours: `pyd-run`, epoch 2 of 2'
    assert ours['training'].endswith('no mixup)')
    path, epoch = RunFolder(small_run).weights()
    assert os.path.basename(path) == 'final.params' and epoch == 2
    # the authors' weights are near-certain on clean images and pick a side of a blend;
    # two epochs on 128 images leave a network that is sure of nothing
    assert authors['test_error'] < 15 < ours['test_error']
    assert authors['sure_share'] > 30 and ours['sure_share'] < 1
    assert authors['blend_loss'] > 2 * math.log(2)
    with open(out) as f:
        text = f.read()
    assert text.startswith('# Fit and confidence of trained weights\n\nGenerated by '
                           '`gluon-pydmn signature --runs %s' % small_run)
    table = [line for line in text.splitlines() if line.startswith('| ')]
    assert table[0].split(' | ')[-len(COLUMNS):][-1] == COLUMNS[-1][1] + ' |'
    assert table[1].startswith('| %s | cifar10 | the authors\' release |'
                               % display_name('pydmobilenet_concat_29_0.25'))
    assert '| %.2f |' % ours['test_error'] in table[2]
    # the authors' weights alone, named
    alone = signature_script.main(['--runs', '--authors', 'pydmobilenet_concat_29_0.25',
                                   '--pairs', '100', '--out', out, '--data-root', data_root,
                                   '--weights-root', release_root])
    assert alone == [authors]
    assert authors['caveat'] is None and ours['caveat'] is None
    assert '\u2020' not in text


def test_weights_of_an_epoch_with_a_caveat_are_marked(small_run, data_root, tmp_path,
                                                        monkeypatch):
    import json
    import shutil
    get_dataset = signature_script.get_dataset
    monkeypatch.setattr(signature_script, 'get_dataset', lambda name, train, root: get_dataset(
        name, train=train, root=root).subset(200))
    old = str(tmp_path / 'pre-fix')
    shutil.copytree(small_run, old)
    record = json.loads(open(os.path.join(old, 'run.json')).read())
    record['caveats'] = [Caveat(2, 2, 'tested with the input BatchNorm at its initial '
                                      'statistics.').to_dict()]
    with open(os.path.join(old, 'run.json'), 'w') as f:
        json.dump(record, f)
    out = str(tmp_path / 'signature.md')
    fixed, stale = signature_script.main(['--runs', small_run, old, '--authors', 'none',
                                          '--pairs', '20', '--out', out, '--data-root', data_root])
    assert fixed['caveat'] is None and stale['caveat'] == RunFolder(old).caveats()[0]
    with open(out) as f:
        table = [line for line in f.read().splitlines() if line.startswith(('| ', '\u2020'))]
    assert '| ours: `pyd-run`, epoch 2 of 2 |' in table[1]
    assert '| ours: `pre-fix`, epoch 2 of 2\u2020 |' in table[2]
    assert table[3] == ('\u2020 The weights are of an epoch with a caveat in their run: Epoch 2 '
                        'was tested with the input BatchNorm at its initial statistics.')


@pytest.mark.parametrize('argv, message', [
    (['--runs', '{tmp}'], 'holds no run'),
    (['--runs', '--authors', 'pydmobilenet_29'], "--authors: no released weights for "
                                                  "pydmobilenet_29; give 'runs', 'all', 'none'"),
    (['--runs', '--authors', 'none'], 'nothing to compare'),
])
def test_bad_input_is_one_error_line(argv, message, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv] + ['--out', str(tmp_path / 'out.md')]
    with pytest.raises(SystemExit):
        signature_script.cli.run(signature_script.main, argv)
    err = capsys.readouterr().err
    assert err.startswith('error: ') and message in err and 'Traceback' not in err
    assert not os.path.exists(tmp_path / 'out.md')


def test_a_folder_without_weights_is_named(tmp_path):
    with pytest.raises(NotARunFolderError, match='holds no weights'):
        RunFolder(tmp_path).weights()
