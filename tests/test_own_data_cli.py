"""``gluon-pydmn`` as ``pip install .`` gives it, without make, on a new user's path: predict a
CIFAR image from a PNG with the authors' weights, train on an image folder written from real
CIFAR images, and name that folder's classes with the trained weights.

The package is built into a wheel and installed into a new virtualenv, which takes the pinned
dependencies from the test's own environment (a ``.pth`` file: nothing is downloaded but the
build tools); every command runs from outside the checkout.
"""
import glob
import os
import site
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
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def tool(tmp_path_factory):
    """The ``gluon-pydmn`` script of the package's wheel installed in a new virtualenv."""
    work = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w',
                    str(work / 'dist'), ROOT], check=True, timeout=600)
    wheel, = glob.glob(str(work / 'dist' / 'gluon_pydmn-*.whl'))
    venv = work / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    purelib = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    with open(os.path.join(purelib, 'pinned_dependencies.pth'), 'w') as f:
        f.write('\n'.join(deps) + '\n')
    subprocess.run([sys.executable, '-m', 'pip', '--python', python, 'install', '--no-deps', '-q',
                    wheel], check=True, timeout=600)
    script = str(venv / 'bin' / 'gluon-pydmn')
    where = subprocess.run([python, '-c', 'import gluon_pydmn; print(gluon_pydmn.__file__)'],
                           capture_output=True, text=True, check=True, cwd=str(work)).stdout
    assert where.startswith(purelib), where  # the wheel's copy, not the checkout
    return script, str(work)


def _run(tool, *words):
    """Run the installed console script outside the checkout; (exit status, stdout, stderr)."""
    script, cwd = tool
    done = subprocess.run([script] + list(words), capture_output=True, text=True, cwd=cwd,
                          timeout=900)
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


def test_the_tool_is_installed_with_the_package(tool):
    status, out, _ = _run(tool, '--help')
    assert status == 0
    for command in ('train', 'finetune', 'evaluate', 'predict', 'export', 'download'):
        assert command in out


def test_predict_names_the_class_of_a_cifar_png(tool, image_folder, release_root):
    png = os.path.join(image_folder, 'val', 'cat', sorted(os.listdir(
        os.path.join(image_folder, 'val', 'cat')))[0])
    net = load_pretrained_quietly(MODEL, 10, release_root)
    (index, name, _), = classify(net, load_image_files([png]))[0]
    assert name == 'cat'  # the authors' weights get this test image right
    status, out, err = _run(tool, 'predict', png, '--model', MODEL, '--weights-root', release_root,
                             '--no-progress')
    assert status == 0, err
    assert out.startswith('%s: cat (' % png)


def test_train_on_an_image_folder_then_predict_its_classes(tool, image_folder, tmp_path):
    run = str(tmp_path / 'run')
    status, out, err = _run(tool, 'train', '--data-dir', image_folder, '--model', MODEL,
                             '--epochs', '1', '--out', run,
                             '--no-progress')
    assert status == 0, err
    assert 'epoch 1/1' in out and os.path.isfile(os.path.join(run, 'final.params'))
    net = g.load_run(os.path.join(run, 'final.params'))
    assert net.classes == 3 and net.class_names == tuple(CLASSES)
    folder = os.path.join(image_folder, 'val', 'ship')
    status, out, err = _run(tool, 'predict', folder, '--checkpoint', os.path.join(run, 'final.params'),
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


def test_predict_refuses_zero_images(tool, tmp_path):
    with pytest.raises(UserError, match='no image given'):
        image_paths([])
    with pytest.raises(UserError, match='holds no image file'):
        image_paths([str(tmp_path)])
    status, _, err = _run(tool, 'predict', '--model', MODEL)
    assert status == 2 and err.strip().startswith('error: no image given')
