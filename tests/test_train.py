"""Training: the paper's schema, mixup, checkpoints that resume exactly, and the CLI."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.reproduce.paper import load_paper_tables, table3_error
from gluon_pydmn.evaluate import error_rate, predict
from gluon_pydmn.train import CheckpointMismatchError, TrainConfig, mixup, train

from conftest import load_script

train_script = load_script('train')

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
    return g.get_cifar_net(family, 11, 0.25, fast=True)


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
    files = set(os.listdir(tmp_path / 'whole'))
    assert {'state.json', 'epoch-0002.params', 'epoch-0002.states', 'history.csv',
            'history.png', 'final.params'} <= files and 'epoch-0001.params' not in files

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
        assert np.abs(value - expected[name]).max() <= 1e-4, name
    assert resumed[1]['test_error'] == pytest.approx(history[1]['test_error'], abs=100 / 64 + 1e-9)


def test_checkpoint_of_another_run_is_refused(tiny_data, tmp_path):
    config = TrainConfig(**dict(TINY, epochs=1))
    train(_net(), *tiny_data, str(tmp_path), config, progress=False)
    with pytest.raises(CheckpointMismatchError, match='another network'):
        train(_net('mobilenet'), *tiny_data, str(tmp_path), config, progress=False)
    with pytest.raises(CheckpointMismatchError, match='another schema'):
        train(_net(), *tiny_data, str(tmp_path), TrainConfig(**dict(TINY, epochs=3)),
              progress=False)


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
    net = g.get_model('mobilenet_29_0.5')
    net.load_parameters(os.path.join(out, 'final.params'))  # loads into a fresh zoo model
    with open(os.path.join(out, 'summary.md')) as f:
        summary = f.read()
    assert 'train.py --model mobilenet_29_0.5' in summary and '128 training images' in summary
    assert '2 of 2 epochs done' in summary
    paper = table3_error(load_paper_tables(), 'MobileNet-29-0.5', 'cifar10')
    assert paper == 8.63 and "The paper's Table 3 gives 8.63% test error" in summary
    for row in history:
        assert '| %d | 0.1 | no | %.4f | %.2f |' % (row['epoch'], row['train_loss'],
                                                   row['test_error']) in summary
    train_script.main(args)  # finished: nothing more to do
    assert 'resuming' in capsys.readouterr().out


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
    net = g.get_cifar_net('mobilenet', 11, 0.5, ctx=contexts)
    history = train(net, *tiny_data, str(tmp_path), config, ctx=contexts, progress=False)
    # recompute the epoch's single batch by hand, each half on its own device
    from gluon_pydmn.train import _batches, _epoch_rng
    x, y = next(_batches(tiny_data[0], 128, _epoch_rng(config.seed, 0), mx.cpu()))
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    mx.random.seed(0)
    fresh = g.get_cifar_net('mobilenet', 11, 0.5)
    fresh.hybridize()
    with mx.autograd.record():  # training-mode BatchNorm, as in the epoch
        halves = [loss_fn(fresh(x[i:i + 64]), y[i:i + 64]).sum().asscalar() for i in (0, 64)]
    assert history[0]['train_loss'] == pytest.approx(sum(halves) / 128, rel=1e-5)


def test_train_script_rejects_bad_gpu_ids(capsys):
    for bad in ('zero', '', '0,,1', '1,1', '-1'):
        with pytest.raises(SystemExit):
            train_script.parse_args(['--model', 'mobilenet_29_0.5', '--gpus', bad])
        assert 'distinct comma-separated GPU ids' in capsys.readouterr().err
    assert train_script.parse_args(['--model', 'mobilenet_29_0.5', '--gpus', '0,1']).gpus == [0, 1]
    assert train_script.parse_args(['--model', 'mobilenet_29_0.5']).gpus == []
