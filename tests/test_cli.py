"""The scripts' shared plumbing: options, contexts, and user errors as one line with status 2."""
import os
import subprocess
import sys

import mxnet as mx
import pytest

from gluon_pydmn import cli
from gluon_pydmn.data import DataNotFoundError
from gluon_pydmn.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
        with pytest.raises(UserError, match='GPU %d requested' % available):
            cli.contexts(several.parse_args(['--gpus', str(available)]))
    else:  # this project's machines: GPUs are refused at once, naming the CUDA build to install
        for argv, parser in ((['--model', 'm', '--gpu', '1'], p), (['--gpus', '0,2'], several)):
            with pytest.raises(UserError, match=r'this MXNet build \(mxnet 1\.9\.1\) has no GPU '
                                                r'support; install a CUDA build such as mxnet-cu112'):
                cli.contexts(parser.parse_args(argv))


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
        'mxnet-cu112 (pip install mxnet-cu112==1.9.1) to use --gpu/--gpus']


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
