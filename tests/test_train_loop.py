"""The training loop's behaviour, observed from outside on real CIFAR-10 images.

One short run (3 epochs of 256 images) is watched through public seams only: the training
set logs which images the loop reads, :func:`gluon_pydmn.train.mixup` is wrapped to see each
batch before and after mixing, a forward pre-hook sees what the network trains on, and the
optimizer state saved after every epoch tells the learning rate that ran. The expectations
are the paper's schema written out by hand, not the loop's own helpers.
"""
import copy
import csv
import json
import os
import pickle
import shutil

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn import train as train_module
from gluon_pydmn.data import CIFAR_MEAN, CIFAR_STD
from gluon_pydmn.train import TrainConfig, train

N_TRAIN, BATCH = 256, 32
STEPS = N_TRAIN // BATCH
# lr 0.02 divided by 10 after epochs 1 and 2; mixup in epochs 1-2, not in the last one
CONFIG = TrainConfig(epochs=3, batch_size=BATCH, learning_rate=0.02, lr_decay_epochs=(1, 2),
                     mixup_off_last_epochs=1)
SCHEDULED_LR = [0.02, 0.002, 0.0002]
SCHEDULED_MIXUP = [True, True, False]


class _LoggedImages(np.ndarray):
    """Training images that log every index array the loop reads them with."""

    log = None

    def __getitem__(self, idx):
        out = np.asarray(np.ndarray.__getitem__(self, idx))
        if self.log is not None and np.ndim(idx) == 1:
            self.log.append(np.array(idx))
        return out


class _Recorder:
    """Per epoch: the indices read, each batch at mixup (before and after), the network's
    training inputs, and the learning rate in the optimizer state saved after the epoch."""

    def __init__(self, train_set):
        self.train_set = copy.copy(train_set)
        self.train_set.images = train_set.images.view(_LoggedImages)
        self.train_set.images.log = self.indices = []
        self.batches, self.inputs, self.epochs = [], [], []

    def mixup(self, x, label, classes, lam):
        mixed, soft = self.real_mixup(x, label, classes, lam)
        self.batches.append({'x': x.asnumpy(), 'y': label.asnumpy().astype(int), 'lam': float(lam),
                             'mixed': mixed.asnumpy(), 'soft': soft.asnumpy()})
        return mixed, soft

    def pre_hook(self, block, inputs):
        if mx.autograd.is_recording():  # training passes only, not the test-set predictions
            self.inputs.append(inputs[0].asnumpy())

    def run(self, net, test_set, out_dir, snapshot=None, **kwargs):
        def on_epoch_end(history):
            with open(os.path.join(out_dir, 'state.json')) as f:
                state = json.load(f)
            with open(os.path.join(out_dir, state['states']), 'rb') as f:
                _, optimizer = pickle.loads(f.read())
            self.epochs.append({'epoch': history[-1]['epoch'], 'optimizer_lr': optimizer.lr,
                                'indices': np.concatenate(self.indices),
                                'batches': self.batches[:], 'inputs': self.inputs[:]})
            del self.indices[:], self.batches[:], self.inputs[:]
            if snapshot and history[-1]['epoch'] == 1:
                shutil.copytree(out_dir, snapshot)
        self.real_mixup = train_module.mixup
        net.register_forward_pre_hook(self.pre_hook)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(train_module, 'mixup', self.mixup)
            return train(net, self.train_set, test_set, out_dir, CONFIG, progress=False,
                         log=lambda message: None, on_epoch_end=on_epoch_end, **kwargs)


def _net(seed):
    mx.random.seed(seed)
    return g.get_cifar_net('mobilenet', 11, 0.5, initialize=True)


@pytest.fixture(scope='module')
def run(data_root, tmp_path_factory):
    """The uninterrupted run, and epoch 2 again, resumed from a copy of epoch 1's checkpoint."""
    train_set = g.CIFAR10(data_root, train=True).subset(N_TRAIN)
    test_set = g.CIFAR10(data_root, train=False).subset(64)
    folder = tmp_path_factory.mktemp('loop')
    whole = _Recorder(train_set)
    history = whole.run(_net(0), test_set, str(folder / 'whole'), snapshot=str(folder / 'after1'))
    resumed = _Recorder(train_set)
    resumed.run(_net(1), test_set, str(folder / 'after1'), stop_after=1)
    return {'train_set': train_set, 'history': history, 'epochs': whole.epochs,
            'resumed': resumed.epochs, 'folder': folder / 'whole'}


def _raw_images(x):
    """Invert ``normalize_images``: normalised NCHW float32 -> the uint8 NHWC pixels."""
    pixels = (x * np.array(CIFAR_STD)[:, None, None] + np.array(CIFAR_MEAN)[:, None, None]) * 255
    assert np.abs(pixels - pixels.round()).max() < 0.01, 'batches are not normalised CIFAR pixels'
    return pixels.round().astype(np.uint8).transpose(0, 2, 3, 1)


def _crop_of(augmented, original):
    """``(dy, dx, flipped)`` with ``augmented`` the crop at offset (dy, dx) of ``original``
    zero-padded by 4 pixels, flipped left-right or not; None if it is no such crop."""
    padded = np.pad(original, ((4, 4), (4, 4), (0, 0)))
    for flipped in (False, True):
        target = augmented[:, ::-1] if flipped else augmented
        for dy in range(9):
            for dx in range(9):
                if np.array_equal(padded[dy:dy + 32, dx:dx + 32], target):
                    return dy, dx, flipped
    return None


def test_every_epoch_reads_all_images_in_a_new_random_order(run):
    assert [r['epoch'] for r in run['epochs']] == list(range(1, len(SCHEDULED_MIXUP) + 1))
    labels = run['train_set'].labels
    orders = []
    for record in run['epochs']:
        epoch, order = record['epoch'], record['indices']
        assert sorted(order.tolist()) == list(range(N_TRAIN)), \
            'epoch %d did not read each training image once' % epoch
        assert not np.array_equal(order, np.arange(N_TRAIN)), \
            'epoch %d read the training images in their stored order: no shuffling' % epoch
        assert np.mean(np.diff(order) == 1) < 0.1, 'epoch %d is barely shuffled' % epoch
        read = np.concatenate([b['y'] for b in record['batches']])
        assert np.array_equal(read, labels[order]), 'epoch %d: labels do not follow the images' % epoch
        orders.append(order)
    for a in range(len(orders)):
        for b in range(a + 1, len(orders)):
            assert np.mean(orders[a] == orders[b]) < 0.1, (
                'epochs %d and %d read the images in the same order: every epoch must draw from '
                'its own generator' % (a + 1, b + 1))


def test_batches_are_randomly_cropped_and_flipped(run):
    """Every training image is a crop of its 4-pixel zero-padded source, maybe flipped, and
    offsets and flips vary (all 81 offsets and both flips are equally likely)."""
    images = np.asarray(run['train_set'].images)
    crops = []
    for record in run['epochs']:
        raw = _raw_images(np.concatenate([b['x'] for b in record['batches']]))
        for augmented, index in zip(raw, record['indices']):
            crop = _crop_of(augmented, images[index])
            assert crop is not None, ('epoch %d: a batch image is no padded crop of training '
                                      'image %d' % (record['epoch'], index))
            crops.append(crop)
    offsets = {c[:2] for c in crops}
    untouched = np.mean([c == (4, 4, False) for c in crops])
    assert untouched < 0.05, ('%.0f%% of the training images reach the network un-augmented: '
                              'augmentation skipped' % (100 * untouched))
    assert len(offsets) >= 60, 'only %d of 81 crop offsets occur: crops do not vary' % len(offsets)
    flipped = np.mean([c[2] for c in crops])
    assert 0.4 < flipped < 0.6, '%.0f%% of the images are flipped, not about half' % (100 * flipped)


def test_labels_are_soft_exactly_in_the_mixup_epochs(run):
    assert len(run['epochs']) == len(SCHEDULED_MIXUP)
    for record, mixup_on in zip(run['epochs'], SCHEDULED_MIXUP):
        epoch, batches = record['epoch'], record['batches']
        assert len(batches) == STEPS == len(record['inputs'])
        for b, trained_on in zip(batches, record['inputs']):
            lam, y = b['lam'], np.eye(10)[b['y']]
            if mixup_on:
                assert lam < 1, ('epoch %d trained on an unmixed batch (lam = %g) although '
                                 'mixup is on: mixup was not applied' % (epoch, lam))
                expected_x = lam * b['x'] + (1 - lam) * b['x'][::-1]
                expected_soft = lam * y + (1 - lam) * y[::-1]
            else:
                expected_x, expected_soft = b['x'], y
            np.testing.assert_allclose(b['soft'], expected_soft, atol=1e-6, err_msg=(
                'epoch %d: labels are not %s' % (epoch, 'mixed with the reversed batch'
                                                 if mixup_on else 'one-hot')))
            np.testing.assert_allclose(b['mixed'], expected_x, atol=1e-5)
            assert np.array_equal(trained_on, b['mixed']), \
                'epoch %d: the network did not train on the mixed batch' % epoch
        if mixup_on:
            lams = [b['lam'] for b in batches]
            assert np.std(lams) > 0.05, 'epoch %d: lam does not vary (%s)' % (epoch, lams)
    assert [r['mixup'] for r in run['history']] == SCHEDULED_MIXUP, \
        'the history does not record which epochs mixed'


def test_learning_rate_decay_reaches_the_optimizer(run):
    saved = [r['optimizer_lr'] for r in run['epochs']]
    for epoch, (lr, scheduled) in enumerate(zip(saved, SCHEDULED_LR), 1):
        assert lr == pytest.approx(scheduled, rel=1e-9), (
            'after epoch %d the saved optimizer has lr %g, the schedule says %g: the decay did '
            'not reach the optimizer' % (epoch, lr, scheduled))
    assert [r['lr'] for r in run['history']] == pytest.approx(saved, rel=1e-12)
    with open(run['folder'] / 'history.csv') as f:
        rows = list(csv.DictReader(f))
    assert [float(r['lr']) for r in rows] == pytest.approx(SCHEDULED_LR, rel=1e-9), \
        'history.csv does not record the learning rate the optimizer used'
    assert [r['mixup'] for r in rows] == [str(m) for m in SCHEDULED_MIXUP]


def test_the_input_batchnorm_keeps_running_statistics_of_the_training_inputs(run):
    """The first BatchNorm normalises the data itself; its saved running statistics must be
    the moving average (momentum 0.9, from 0 and 1) of every training batch's mean and
    variance. MXNet's CPU BatchNorm updates them in the backward pass, which a BatchNorm
    without gamma/beta on an input without gradient never gets: the loop once left them at
    0 and 1, and every test then ran on mis-scaled inputs."""
    mean, var = np.zeros(3), np.ones(3)
    for epoch in run['epochs']:
        for x in epoch['inputs']:
            mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2, 3))
            var = 0.9 * var + 0.1 * x.var(axis=(0, 2, 3))
    assert len(run['epochs']) == 3 and sum(len(e['inputs']) for e in run['epochs']) == 3 * STEPS
    net = _net(0)
    net.load_parameters(str(run['folder'] / 'final.params'))
    saved_mean = net.stem_bn.running_mean.data().asnumpy()
    saved_var = net.stem_bn.running_var.data().asnumpy()
    assert np.abs(saved_mean - mean).max() < 1e-4 and np.abs(saved_var / var - 1).max() < 1e-4, (
        'the input BatchNorm saved running mean %s / variance %s; the training inputs\' moving '
        'averages are %s / %s' % (saved_mean, saved_var, mean, var))


def test_a_resumed_epoch_sees_the_data_of_the_uninterrupted_run(run):
    (again,), uninterrupted = run['resumed'], run['epochs'][1]
    assert again['epoch'] == 2
    assert np.array_equal(again['indices'], uninterrupted['indices']), \
        'resumed epoch 2 read the images in another order than the uninterrupted run'
    for a, b in zip(again['batches'], uninterrupted['batches']):
        assert a['lam'] == b['lam'], 'resumed epoch 2 drew other mixup weights'
        assert np.array_equal(a['x'], b['x']), 'resumed epoch 2 saw other augmented images'
    assert again['optimizer_lr'] == pytest.approx(SCHEDULED_LR[1], rel=1e-9)


def test_running_statistics_are_the_mean_over_devices():
    """BatchNorm running statistics become the mean of the devices' copies; trainable
    parameters and single-device networks are left alone."""
    from gluon_pydmn.train import _average_running_statistics
    contexts = [mx.cpu(0), mx.cpu(1)]
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(2, 1, in_channels=3), mx.gluon.nn.BatchNorm(in_channels=2))
    net.initialize(ctx=contexts)
    bn = net[1]
    bn.running_mean.data(contexts[0])[:] = mx.nd.array([1.0, -2.0])
    bn.running_mean.data(contexts[1])[:] = mx.nd.array([3.0, 6.0])
    bn.running_var.data(contexts[0])[:] = mx.nd.array([0.5, 1.0])
    bn.running_var.data(contexts[1])[:] = mx.nd.array([1.5, 4.0])
    bn.gamma.data(contexts[1])[:] = mx.nd.array([7.0, 7.0])  # trainable: not averaged
    _average_running_statistics(net)
    for ctx in contexts:
        mean, var = bn.running_mean.data(ctx).asnumpy(), bn.running_var.data(ctx).asnumpy()
        assert mean.tolist() == [2.0, 2.0] and var.tolist() == [1.0, 2.5], (
            'running statistics on %s are %s / %s, not the mean of the devices\' copies '
            '[2, 2] / [1, 2.5]' % (ctx, mean.tolist(), var.tolist()))
    assert bn.gamma.data(contexts[0]).asnumpy().tolist() == [1.0, 1.0]
    assert bn.gamma.data(contexts[1]).asnumpy().tolist() == [7.0, 7.0]
    single = mx.gluon.nn.BatchNorm(in_channels=2)
    single.initialize()
    single.running_mean.set_data(mx.nd.array([1.0, -2.0]))
    _average_running_statistics(single)
    assert single.running_mean.data().asnumpy().tolist() == [1.0, -2.0]
