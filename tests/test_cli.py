"""The scripts' shared plumbing: options, contexts, and user errors as one line with status 2."""
import os
import subprocess
import sys

import mxnet as mx
import pytest

from gluon_pydmn import cli
from gluon_pydmn.data import DataNotFoundError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_user_errors_end_with_one_line_and_status_2(capsys):
    def missing(argv):
        raise DataNotFoundError('CIFAR10 not found in %s' % argv[0])
    with pytest.raises(SystemExit) as exit_info:
        cli.run(missing, ['/nowhere'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == 'error: CIFAR10 not found in /nowhere\n'
    assert cli.run(lambda argv: argv + [1], [0]) == [0, 1]


def test_other_errors_keep_their_traceback():
    def bug(argv):
        raise KeyError('a bug')
    with pytest.raises(KeyError):
        cli.run(bug)

    class Refused(Exception):
        pass

    def refused(argv):
        raise Refused('refused')
    with pytest.raises(SystemExit):
        cli.run(refused, errors=(Refused,))


def test_shared_options_and_contexts():
    p = cli.parser('doc')
    cli.add_trained_network(p)
    args = p.parse_args(['--model', 'mobilenet_29_0.5', '--dataset', 'cifar100-coarse'])
    assert (args.model, args.dataset, args.checkpoint, args.gpu) == (
        'mobilenet_29_0.5', 'cifar100-coarse', None, None)
    assert cli.contexts(args) == [mx.cpu()]
    assert cli.contexts(p.parse_args(['--model', 'm', '--gpu', '1'])) == [mx.gpu(1)]
    several = cli.parser('doc')
    cli.add_gpus(several, several=True)
    assert cli.contexts(several.parse_args(['--gpus', '0,2'])) == [mx.gpu(0), mx.gpu(2)]


def test_a_script_reports_an_unknown_model_without_traceback():
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'evaluate.py'),
                           '--model', 'pydmobilenet_56'], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown model 'pydmobilenet_56'; valid names are:")
    assert 'pydmobilenet_concat_56_0.75' in done.stderr and 'Traceback' not in done.stderr
