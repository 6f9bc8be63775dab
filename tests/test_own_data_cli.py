"""The installed ``gluon-pydmn`` command on a new user's path: predict a CIFAR image from a PNG
with the authors' weights, train on an image folder written from real CIFAR images, and name
that folder's classes with the trained weights."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.commands.predict import image_paths
from gluon_pydmn.errors import UserError
from gluon_pydmn.evaluate import classify
from gluon_pydmn.image_folder import load_image_files, write_image_folder

from conftest import load_pretrained_quietly

MODEL = 'pydmobilenet_add_29_0.25'
CLASSES = ['airplane', 'cat', 'ship']
TOOL = os.path.join(os.path.dirname(sys.executable), 'gluon-pydmn')


def _tool(*words, env=None):
    """Run the installed console script; return (exit status, stdout, stderr)."""
    done = subprocess.run([TOOL] + list(words), capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=600)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope='module')
def image_folder(data_root, tmp_path_factory):
    """Three CIFAR-10 classes as PNG files: 50 training and 20 validation images each."""
    root = str(tmp_path_factory.mktemp('own') / 'images')
    write_image_folder(g.CIFAR10(data_root, train=True), root, 'train', per_class=50,
                       classes=CLASSES)
    write_image_folder(g.CIFAR10(data_root, train=False), root, 'val', per_class=20,
                       classes=CLASSES)
    return root


def test_the_tool_is_installed_with_the_package():
    status, out, _ = _tool('--help')
    assert status == 0
    for command in ('train', 'finetune', 'evaluate', 'predict', 'export', 'download'):
        assert command in out


def test_predict_names_the_class_of_a_cifar_png(image_folder, release_root):
    png = os.path.join(image_folder, 'val', 'cat', sorted(os.listdir(
        os.path.join(image_folder, 'val', 'cat')))[0])
    net = load_pretrained_quietly(MODEL, 10, release_root)
    (index, name, _), = classify(net, load_image_files([png]))[0]
    assert name == 'cat'  # the authors' weights get this test image right
    status, out, err = _tool('predict', png, '--model', MODEL, '--weights-root', release_root,
                             '--no-progress')
    assert status == 0, err
    assert out.startswith('%s: cat (' % png)


def test_train_on_an_image_folder_then_predict_its_classes(image_folder, tmp_path):
    run = str(tmp_path / 'run')
    status, out, err = _tool('train', '--data-dir', image_folder, '--model', MODEL,
                             '--epochs', '1', '--out', run,
                             '--no-progress')
    assert status == 0, err
    assert 'epoch 1/1' in out and os.path.isfile(os.path.join(run, 'final.params'))
    net = g.load_run(os.path.join(run, 'final.params'))
    assert net.classes == 3 and net.class_names == tuple(CLASSES)
    folder = os.path.join(image_folder, 'val', 'ship')
    status, out, err = _tool('predict', folder, '--checkpoint', os.path.join(run, 'final.params'),
                             '--top-k', '3', '--no-progress')
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 20
    for line in lines:  # each line names all three classes, most probable first
        named = [part.split(' (')[0] for part in line.split(': ', 1)[1].split(', ')]
        assert sorted(named) == CLASSES
    expected = classify(net, load_image_files(image_paths([folder])), top_k=3)
    assert [[n for _, n, _ in top] for top in expected] == [
        [part.split(' (')[0] for part in line.split(': ', 1)[1].split(', ')] for line in lines]


def test_predict_refuses_zero_images(tmp_path):
    with pytest.raises(UserError, match='no image given'):
        image_paths([])
    with pytest.raises(UserError, match='holds no image file'):
        image_paths([str(tmp_path)])
    status, _, err = _tool('predict', '--model', MODEL)
    assert status == 2 and err.strip().startswith('error: no image given')
