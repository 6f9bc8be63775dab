"""GluonCV's conventions in the zoo, and fine-tuning: a released network given a new head, by
timm's ``reset_classifier`` and by GluonCV's ``net.output = nn.Dense(n)``, trains, evaluates,
deploys and exports."""
import copy
import glob
import os
import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

import gluon_pydmn as g
from gluon_pydmn.checkpoint import Checkpoint
from gluon_pydmn.classifier import class_names, head_is_pretrained, num_outputs
from gluon_pydmn.data import normalize_images
from gluon_pydmn.commands import finetune as finetune_command
from gluon_pydmn.errors import NotARunFolderError, NotInitializedError
from gluon_pydmn.evaluate import evaluate, predict
from gluon_pydmn.export import OnnxModel, export_mxnet, export_onnx
from gluon_pydmn.model_zoo import get_model_list
from gluon_pydmn.run_folder import RunFolder
from gluon_pydmn.train import TrainConfig, train

from conftest import load_pretrained_quietly

MODEL = 'pydmobilenet_add_29_0.25'
ALL_NAMES = get_model_list(include_gluoncv=True)


def _initialisation_warnings(caught):
    return [w for w in caught if 'initialized' in str(w.message)]


@pytest.mark.parametrize('name', ALL_NAMES)
def test_get_model_is_uninitialised_as_gluoncvs(name):
    """``net = get_model(name); net.initialize(mx.init.Xavier())`` prints no warning, and the
    counts are known before initialisation and unchanged by it."""
    net = g.get_model(name)
    params = g.count_params(net)
    assert not any(p._data is not None for p in net.collect_params().values())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        net.initialize(mx.init.Xavier())
    assert not _initialisation_warnings(caught)
    assert net(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 10)
    assert g.count_params(net) == params and num_outputs(net) == 10


@pytest.mark.parametrize('name', ['mobilenet_29_0.5', 'cifar_resnet20_v1'])
def test_initialize_keyword(name):
    assert g.get_model(name, initialize=True)(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 10)
    net = g.get_model(name, initialize=False)
    assert not any(p._data is not None for p in net.collect_params().values())


def test_running_an_uninitialised_network_says_how_to_initialise():
    with pytest.raises(NotInitializedError, match=r'net.initialize\(mx.init.Xavier\(\)'):
        g.get_model('mobilenet_29_0.5')(mx.nd.zeros((1, 3, 32, 32)))


def test_a_pretrained_value_the_zoo_does_not_understand_names_checkpoint_path():
    with pytest.raises(ValueError, match="checkpoint_path='/some/file.params'"):
        g.get_model('mobilenet_29_0.5', pretrained='/some/file.params')


def test_classes_without_weights_say_how_to_fine_tune():
    with pytest.raises(ValueError, match=r'reset_classifier\(5\).*docs/finetuning.md'):
        g.get_model('mobilenet_29_0.5', classes=5, pretrained=True)


def test_pretrained_networks_know_their_class_names(release_root):
    net = load_pretrained_quietly(MODEL, 10, release_root)
    assert net.class_names[:3] == ('airplane', 'automobile', 'bird') and len(net.class_names) == 10
    coarse = load_pretrained_quietly(MODEL, 100, release_root)
    assert len(coarse.class_names) == 20 and coarse.class_names[0] == 'aquatic_mammals'


@pytest.fixture(scope='module')
def five_classes(data_root):
    """Five CIFAR-100 fine classes (0-4), as a user's new task: 160 training and 100 test
    images."""
    def take(dataset, n):
        out = copy.copy(dataset)
        keep = np.flatnonzero(dataset.labels < 5)[:n]
        out.images, out.labels = dataset.images[keep], dataset.labels[keep]
        return out
    return (take(g.CIFAR100(data_root, train=True, label_mode='fine'), 160),
            take(g.CIFAR100(data_root, train=False, label_mode='fine'), 100))


def _new_head(net, way):
    if way == 'reset_classifier':
        net.reset_classifier(5, names=['apple', 'aquarium_fish', 'baby', 'bear', 'beaver'])
    else:
        net.output = nn.Dense(5)  # GluonCV's recipe: no input size, not initialised


@pytest.mark.parametrize('way', ['reset_classifier', 'gluoncv'])
def test_finetuned_network_trains_evaluates_deploys_and_exports(way, release_root, five_classes,
                                                                 tmp_path):
    train_set, test_set = five_classes
    net = load_pretrained_quietly(MODEL, 10, release_root)
    stem = net.stem_conv.weight.data().asnumpy().copy()
    _new_head(net, way)
    assert num_outputs(net) == net.classes == 5 and not head_is_pretrained(net)
    assert class_names(net) == (('apple', 'aquarium_fish', 'baby', 'bear', 'beaver')
                                if way == 'reset_classifier' else None)
    logs = []
    config = TrainConfig(epochs=1, batch_size=32, learning_rate=0.01, mixup_alpha=0)
    history = train(net, train_set, test_set, str(tmp_path / way), config, progress=False,
                    log=logs.append)
    assert len(history) == 1 and np.isfinite(history[0]['train_loss'])
    said = 'had no value when training started: train() initialised them with Xavier'
    assert any(said in line for line in logs) == (way == 'gluoncv')
    with open(str(tmp_path / way / 'summary.md')) as f:
        assert (said in f.read()) == (way == 'gluoncv')  # the summary says so too
    assert not np.array_equal(stem, net.stem_conv.weight.data().asnumpy())  # the backbone trained
    error = evaluate(net, test_set)  # a replaced head is not held to the released label set
    assert error == pytest.approx(history[0]['test_error'], abs=1e-6)
    x = normalize_images(test_set.images[:8])
    logits = net(x).asnumpy()
    deployed = g.deploy(net)
    assert np.abs(deployed(x).asnumpy() - logits).max() <= 1e-4
    sym, params = export_mxnet(deployed, str(tmp_path / 'mx'))
    back = mx.gluon.nn.SymbolBlock.imports(sym, ['data'], params)
    assert np.abs(back(x).asnumpy() - logits).max() <= 1e-4
    onnx_logits = OnnxModel(export_onnx(deployed, str(tmp_path / 'net.onnx')))(x)
    assert onnx_logits.shape == (8, 5) and np.abs(onnx_logits - logits).max() <= 1e-3


def test_reset_classifier_keeps_the_backbone_and_initialises_on_its_devices(release_root):
    net = load_pretrained_quietly(MODEL, 10, release_root)
    x = normalize_images(np.zeros((2, 32, 32, 3), np.uint8))
    features = net.features(x).asnumpy()
    head = net.reset_classifier(3)
    assert head is net.output and head.weight.shape == (3, features.shape[1])
    assert np.array_equal(net.features(x).asnumpy(), features)
    assert predict(net, np.zeros((2, 32, 32, 3), np.uint8)).shape == (2, 3)
    with pytest.raises(ValueError, match='whole number'):
        net.reset_classifier(0)


FINETUNE_RUNS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'results', 'finetune', '*')))


def test_the_committed_transfer_experiment_has_both_runs():
    """Its run folders hold the history and reports (their weights stay out of git)."""
    starts = [os.path.basename(p) for p in FINETUNE_RUNS]
    assert len(starts) == 2 and starts[0].endswith('-cifar10-weights') and starts[1].endswith(
        '-scratch')
    for path in FINETUNE_RUNS:  # finished in a clone too, where final.params is absent
        assert RunFolder(path).is_finished(), path


def test_finetune_command_runs_both_starts_and_drops_their_weights(data_root, release_root,
                                                                   tmp_path, capsys):
    """``gluon-pydmn finetune`` trains both runs, writes the comparison, and (without
    ``--keep-weights``) leaves finished folders without ``final.params``; run again, it
    trains nothing and writes the same table."""
    base = ['--train-images', '256', '--epochs', '1', '--data-root', data_root,
            '--weights-root', release_root, '--no-progress']
    args = base + ['--out', str(tmp_path)]
    text = finetune_command.main(args)
    folders = sorted(glob.glob(str(tmp_path / 'finetune' / '*')))
    assert [os.path.basename(f).rsplit('-', 1)[-1] for f in folders] == ['weights', 'scratch']
    for path in folders:
        folder = RunFolder(path)
        assert folder.is_finished() and not folder.has('final.params')
        assert folder.state()['weights_kept'] is False and len(folder.history()) == 1
        with pytest.raises(NotARunFolderError, match='not kept'):
            folder.weights()
    assert 'the final weights are not kept: `--keep-weights` keeps them' in text
    capsys.readouterr()
    assert finetune_command.main(args) == text
    assert capsys.readouterr().out.count('nothing to do') == 2
    # a kill between the state's commit and the removal leaves final.params: the next open
    # removes it
    stray = os.path.join(folders[0], 'final.params')
    open(stray, 'wb').close()
    Checkpoint(folders[0]).clean(RunFolder(folders[0]).state())
    assert not os.path.exists(stray)
    kept = finetune_command.main(base + ['--out', str(tmp_path / 'kept'), '--keep-weights'])
    assert ', final weights)' in kept
    for path in glob.glob(str(tmp_path / 'kept' / 'finetune' / '*')):
        assert RunFolder(path).has('final.params') and RunFolder(path).is_finished()
