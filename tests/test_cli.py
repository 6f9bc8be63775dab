"""The scripts' shared plumbing: options, devices and contexts, and user errors as one line with
status 2."""
import os
import subprocess
import sys

import mxnet as mx
import pytest

from gluon_pydmn import cli, devices
from gluon_pydmn.data import DataNotFoundError
from gluon_pydmn.errors import NoGpuError, UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_CUDA = (r'this MXNet build \(mxnet 1\.9\.1\) has no GPU support; install a CUDA build such as '
           r'mxnet-cu112 \(pip install mxnet-cu112==1\.9\.1\) to use a GPU')


def test_user_errors_end_with_one_line_and_status_2(capsys):
    def missing(argv):
        raise DataNotFoundError('CIFAR10 not found in %s' % argv[0])
    with pytest.raises(SystemExit) as exit_info:
        cli.run(missing, ['/nowhere'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == 'error: CIFAR10 not found in /nowhere\n'
    assert cli.run(lambda argv: argv + [1], [0]) == [0, 1]


def test_other_errors_keep_their_traceback(capsys):
    def bug(argv):
        raise KeyError('a bug')
    with pytest.raises(KeyError):
        cli.run(bug)

    class Refused(Exception):
        pass

    def refused(argv):
        raise Refused('refused')
    with pytest.raises(SystemExit) as exit_info:
        cli.run(refused, errors=(Refused,))
    assert exit_info.value.code == 2 and capsys.readouterr().err == 'error: refused\n'


def test_shared_options_and_contexts():
    p = cli.parser('doc')
    cli.add_trained_network(p)
    args = p.parse_args(['--model', 'mobilenet_29_0.5', '--dataset', 'cifar100-coarse'])
    assert (args.model, args.dataset, args.checkpoint, args.gpu) == (
        'mobilenet_29_0.5', 'cifar100-coarse', None, None)
    assert cli.contexts(args) == [mx.cpu()]
    several = cli.parser('doc')
    cli.add_gpus(several, several=True)
    if mx.runtime.Features().is_enabled('CUDA'):  # a CUDA build: ids within the machine's GPUs
        available = mx.context.num_gpus()
        assert cli.contexts(several.parse_args(['--gpus', '0'])) == [mx.gpu(0)]
        with pytest.raises(UserError, match='no GPU %d on this machine' % available):
            cli.contexts(several.parse_args(['--gpus', str(available)]))
    else:  # this project's machines: GPUs are refused at once, naming the CUDA build to install
        for argv, parser in ((['--model', 'm', '--gpu', '1'], p), (['--gpus', '0,2'], several)):
            with pytest.raises(UserError, match=NO_CUDA):
                cli.contexts(parser.parse_args(argv))


@pytest.mark.parametrize('text, contexts', [
    ('cpu', [mx.cpu()]), ('cpu:0', [mx.cpu()]), ('gpu', [mx.gpu(0)]), ('gpu:3', [mx.gpu(3)]),
    (' GPU:1 ', [mx.gpu(1)]), ('gpu:0,1', [mx.gpu(0), mx.gpu(1)]),
    ('gpu:2,0,5', [mx.gpu(2), mx.gpu(0), mx.gpu(5)])])
def test_parse_ctx(text, contexts):
    assert devices.parse_ctx(text) == contexts


@pytest.mark.parametrize('text', ['tpu', 'gpu:', 'gpu:x', 'gpu:-1', 'cpu:1', 'cpu:0,1', 'gpu0',
                                  'gpu:0,0', 'gpu:0,', 'gpu:0;1', 'gpu 0', ''])
def test_parse_ctx_refuses_naming_the_forms(text):
    with pytest.raises(ValueError) as error:
        devices.parse_ctx(text)
    assert str(error.value) == ("expected 'cpu', 'gpu', 'gpu:N' or 'gpu:N,M,...' (distinct GPU "
                                'ids), got %r' % text)


def test_gpus_on_an_mxnet_without_cuda_name_the_cuda_build():
    assert not mx.runtime.Features().is_enabled('CUDA')  # this project's machines
    assert devices.check_contexts([mx.cpu()]) == [mx.cpu()]
    for text in ('gpu', 'gpu:0,1'):
        with pytest.raises(NoGpuError, match='^%s$' % NO_CUDA):
            devices.check_contexts(devices.parse_ctx(text))
    assert issubclass(NoGpuError, UserError) and issubclass(NoGpuError, RuntimeError)


def test_missing_gpus_on_a_cuda_build_are_named(monkeypatch):
    class CudaBuild:
        def is_enabled(self, name):
            return name == 'CUDA'
    monkeypatch.setattr(devices.mx.runtime, 'Features', CudaBuild)
    monkeypatch.setattr(devices, '_num_gpus', lambda: 2)
    assert devices.check_contexts([mx.gpu(1), mx.gpu(0)]) == [mx.gpu(1), mx.gpu(0)]
    with pytest.raises(NoGpuError, match=r'^no GPU 2, 3 on this machine: MXNet sees 2 GPU\(s\), '
                                         r'ids 0 to 1$'):
        devices.check_contexts(devices.parse_ctx('gpu:1,2,3'))
    args = cli.parser('doc')
    cli.add_gpus(args)
    with pytest.raises(NoGpuError, match='no GPU 2 on this machine'):
        cli.contexts(args.parse_args(['--gpu', '2']))
    monkeypatch.setattr(devices, '_num_gpus', lambda: 0)
    with pytest.raises(NoGpuError, match=r'^no GPU 0 on this machine: MXNet sees no GPU \(a CUDA '
                                         r'build\)$'):
        devices.check_contexts([mx.gpu(0)])


def test_a_script_reports_an_unknown_model_without_traceback():
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'evaluate.py'),
                           '--model', 'pydmobilenet_56'], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown model 'pydmobilenet_56'; valid names are this "
                                  "zoo's:")
    assert 'pydmobilenet_concat_56_0.75' in done.stderr and 'Traceback' not in done.stderr


def test_train_script_refuses_gpus_on_an_mxnet_without_cuda_in_one_line():
    if mx.runtime.Features().is_enabled('CUDA'):
        pytest.fail('this test is for MXNet builds without CUDA, as on this project\'s machines')
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'train.py'),
                           '--model', 'mobilenet_29_0.5', '--gpus', '0'], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert done.stderr.strip().splitlines() == [
        'error: this MXNet build (mxnet 1.9.1) has no GPU support; install a CUDA build such as '
        'mxnet-cu112 (pip install mxnet-cu112==1.9.1) to use a GPU']


@pytest.mark.parametrize('option, value, message', [
    ('--epochs', '0', 'epochs must be at least 1'),
    ('--lr', '-1', 'learning_rate must be >= 0'),
    ('--batch-size', '0', 'batch_size must be at least 1'),
    ('--model', 'bogus', "unknown model 'bogus'"),
])
def test_train_script_reports_a_refused_configuration_in_one_line(option, value, message):
    env = dict(os.environ, PYTHONPATH=ROOT)
    args = {'--model': 'mobilenet_29_0.5'}
    args[option] = value
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'train.py')]
                          + [w for kv in args.items() for w in kv], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 2 and 'Traceback' not in done.stderr, done.stderr
    assert done.stderr.startswith('error: ') and message in done.stderr
