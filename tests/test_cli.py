"""The ``gluon-pydmn`` command line: its subcommands, their shared options (one name for one
thing), devices and contexts, the installed console script, and user errors as one line with
status 2."""
import argparse
import os
import re
import subprocess
import sys

import mxnet as mx
import pytest

from gluon_pydmn import cli, commands, devices
from gluon_pydmn.commands import COMMANDS
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
    assert (args.model, args.dataset, args.checkpoint, args.ctx) == (
        'mobilenet_29_0.5', 'cifar100-coarse', None, mx.cpu())
    assert cli.contexts(args) == [mx.cpu()] and cli.context(args) == mx.cpu()
    assert p.parse_args(['--model', 'm', '--ctx', 'gpu:1']).ctx == mx.gpu(1)
    several = cli.parser('doc')
    cli.add_ctx(several, several=True)
    assert several.parse_args([]).ctx == [mx.cpu()]
    assert several.parse_args(['--ctx', 'gpu:0,1']).ctx == [mx.gpu(0), mx.gpu(1)]
    if mx.runtime.Features().is_enabled('CUDA'):  # a CUDA build: ids within the machine's GPUs
        available = mx.context.num_gpus()
        assert cli.contexts(several.parse_args(['--ctx', 'gpu:0'])) == [mx.gpu(0)]
        with pytest.raises(UserError, match='no GPU %d on this machine' % available):
            cli.contexts(several.parse_args(['--ctx', 'gpu:%d' % available]))
    else:  # this project's machines: GPUs are refused at once, naming the CUDA build to install
        for argv, parser in ((['--model', 'm', '--ctx', 'gpu:1'], p),
                             (['--ctx', 'gpu:0,2'], several)):
            with pytest.raises(UserError, match=NO_CUDA):
                cli.contexts(parser.parse_args(argv))


@pytest.mark.parametrize('text, message', [
    ('gpu:0,1', "this command runs on one device at a time ('cpu', 'gpu' or 'gpu:N'), got "
                "'gpu:0,1'"),
    ('tpu', "expected 'cpu', 'gpu', 'gpu:N' or 'gpu:N,M,...' (distinct GPU ids), got 'tpu'")])
def test_ctx_of_a_one_device_command_refuses_several_or_bad_devices(text, message, capsys):
    p = cli.parser('doc')
    cli.add_ctx(p)
    with pytest.raises(SystemExit) as exit_info:
        p.parse_args(['--ctx', text])
    assert exit_info.value.code == 2
    assert 'argument --ctx: ' + message in capsys.readouterr().err


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
    cli.add_ctx(args)
    with pytest.raises(NoGpuError, match='no GPU 2 on this machine'):
        cli.contexts(args.parse_args(['--ctx', 'gpu:2']))
    monkeypatch.setattr(devices, '_num_gpus', lambda: 0)
    with pytest.raises(NoGpuError, match=r'^no GPU 0 on this machine: MXNet sees no GPU \(a CUDA '
                                         r'build\)$'):
        devices.check_contexts([mx.gpu(0)])



# --- the gluon-pydmn tool: its subcommands and their options -----------------------------------

GLUON_PYDMN = os.path.join(os.path.dirname(sys.executable), 'gluon-pydmn')
ENV = dict(os.environ, PYTHONPATH=ROOT)


def _leaf_parsers(parser, words=()):
    """``(words, parser)`` of every subcommand of ``parser``, nested ones (``download data``)
    included, each with the options of the parsers above it."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield words, parser
        return
    for name, sub in subparsers[0].choices.items():
        yield from _leaf_parsers(sub, words + (name,))


LEAVES = dict((' '.join(words), p) for words, p in _leaf_parsers(commands.build_parser()))


def _options(parser):
    """``{option string: action}`` of ``parser``, without ``-h``/``--help``."""
    return {s: a for a in parser._actions if not isinstance(a, argparse._HelpAction)
            for s in a.option_strings}


def test_every_command_module_is_a_subcommand_and_the_other_way_round():
    modules = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, 'gluon_pydmn', 'commands'))
                     if n.endswith('.py') and n != '__init__.py')
    assert sorted(COMMANDS) == modules and len(set(COMMANDS)) == len(COMMANDS)
    assert {words.split()[0] for words in LEAVES} == set(COMMANDS)
    for name in COMMANDS:
        module = commands.command_module(name)
        assert callable(module.add_arguments) and callable(module.run) and callable(module.main)
        assert module.__doc__.strip().splitlines()[1] == '', name  # a one-line summary first


@pytest.mark.parametrize('words', sorted(LEAVES))
def test_help_of_every_subcommand_gives_its_docstring(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.main(words.split() + ['--help'])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    doc = commands.command_module(words.split()[0]).__doc__
    assert out.startswith('usage: gluon-pydmn %s ' % words)
    assert doc.strip().splitlines()[0] in out and doc.strip().splitlines()[-1] in out


def test_same_thing_same_option_name_in_every_subcommand():
    options = {words: _options(p) for words, p in LEAVES.items()}
    # the old and other spellings are gone everywhere
    other_names = {'--gpu', '--gpus', '--device', '--devices', '--context', '--out-dir',
                   '--outdir', '--output', '--output-dir', '--progress', '--quiet',
                   '--data', '--weights-dir', '--weights', '--root-dir'}
    assert not {w: sorted(other_names & set(o)) for w, o in options.items()
                if other_names & set(o)}
    # one option name, one meaning: the same destination and kind of value everywhere
    meanings = {}
    for words, opts in options.items():
        for name, action in opts.items():
            meanings.setdefault(name, set()).add((action.dest, type(action).__name__))
    assert {name: m for name, m in meanings.items() if len(m) > 1} == {}
    # a device is chosen with --ctx, parsed by devices.parse_ctx
    for words, opts in options.items():
        devices_taken = [n for n, a in opts.items() if a.type in (cli._device, cli._devices)]
        assert devices_taken in ([], ['--ctx']), words
        if '--ctx' in opts:
            assert opts['--ctx'].type in (cli._device, cli._devices), words
    # the subcommands that load data or weights or run on a device do long work
    long_work = [w for w, o in options.items()
                 if {'--ctx', '--data-root', '--weights-root'} & set(o)]
    missing = [w for w in long_work if '--no-progress' not in options[w]]
    assert len(long_work) >= 10 and missing == []
    # a subcommand whose help says it writes files names where with --out (download: with
    # --data-root or --weights-root)
    writes = [w for w in options if re.search(r'\b([Ww]rites?|[Ww]ritten)\b',
                                              LEAVES[w].description)]
    assert len(writes) >= 10, writes
    for words in writes:
        assert {'--out', '--data-root', '--weights-root'} & set(options[words]), words
    assert 'evaluate' in options and 'evaluate' not in writes  # prints its result only


def test_shared_options_are_defined_once_in_cli():
    pattern = re.compile(r"""add_argument\(\s*['"]--(ctx|out|no-progress|data-root|"""
                         r"""weights-root|paper-tables|model|dataset)['"]""")
    for name in COMMANDS:
        with open(os.path.join(ROOT, 'gluon_pydmn', 'commands', name + '.py')) as f:
            assert not pattern.search(f.read()), name


@pytest.mark.parametrize('words, several', [('train', True), ('evaluate', False),
                                             ('export', False), ('table3', False),
                                             ('table5', False), ('signature', False)])
def test_ctx_takes_one_device_or_several_where_batches_are_split(words, several, capsys):
    parser = LEAVES[words]
    required = ['--model', 'mobilenet_29_0.5'] if words in ('evaluate', 'export') else []
    required += ['--out', 'exported/x'] if words == 'export' else []
    assert cli.context(parser.parse_args(required)) == mx.cpu()
    if several:
        assert parser.parse_args(required + ['--ctx', 'gpu:0,1']).ctx == [mx.gpu(0), mx.gpu(1)]
    else:
        assert parser.parse_args(required + ['--ctx', 'gpu:1']).ctx == mx.gpu(1)
        with pytest.raises(SystemExit):
            parser.parse_args(required + ['--ctx', 'gpu:0,1'])
        assert 'one device at a time' in capsys.readouterr().err


def test_generated_files_record_the_gluon_pydmn_command():
    from gluon_pydmn.commands import table3
    args = cli.parse_command(table3, ['--out', 'my results', '--models', 'mobilenet_29_0.5'])
    assert cli.command_line(args) == ("gluon-pydmn table3 --out 'my results' --models "
                                      'mobilenet_29_0.5')
    assert args.out == 'my results'


def test_download_weights_fetches_the_release_or_converts_one(monkeypatch, tmp_path, capsys):
    from gluon_pydmn.commands import download
    calls = []
    monkeypatch.setattr(download, 'download_release',
                        lambda dst, progress: calls.append(('download', dst, progress)))
    monkeypatch.setattr(download, 'convert_release', lambda src, dst, progress: calls.append(
        ('convert', src, dst, progress)) or [os.path.join(dst, 'x.params')])
    assert download.main(['weights', '--weights-root', str(tmp_path)]) == [str(tmp_path)]
    assert commands.main(['download', 'weights', '--convert', 'release', '--weights-root',
                     str(tmp_path), '--no-progress']) == 0
    assert calls == [('download', str(tmp_path), True),
                     ('convert', 'release', str(tmp_path), False)]
    assert capsys.readouterr().out.splitlines() == [str(tmp_path),
                                                    os.path.join(str(tmp_path), 'x.params')]
    with pytest.raises(SystemExit):  # --convert is an option of `download weights` only
        commands.main(['download', 'data', '--convert', 'release'])


def test_a_user_error_of_a_subcommand_is_one_line_and_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.main(['runs', '--root', str(tmp_path / 'nowhere')])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ('error: --root %s: no such folder; give the folder holding '
                                       'the run folders (default results/training)\n'
                                       % (tmp_path / 'nowhere'))


def test_the_installed_console_script_lists_every_subcommand():
    assert os.access(GLUON_PYDMN, os.X_OK), ('%s missing: pip install -e . (make install) '
                                             'installs it' % GLUON_PYDMN)
    for command in ([GLUON_PYDMN], [sys.executable, '-m', 'gluon_pydmn']):
        done = subprocess.run(command + ['--help'], capture_output=True, text=True, env=ENV)
        assert done.returncode == 0 and done.stdout.startswith('usage: gluon-pydmn ')
        listed = {line.split()[0] for line in done.stdout.splitlines()
                  if line.startswith('    ') and line.split()[0] in COMMANDS}
        assert listed == set(COMMANDS)
        for name in COMMANDS:  # each with the first line of its docstring
            summary = commands.command_module(name).__doc__.strip().splitlines()[0].rstrip('.')
            assert ' '.join(summary.split()[:4]) in ' '.join(done.stdout.split()), name


def test_the_console_script_refuses_a_gpu_on_an_mxnet_without_cuda_in_one_line():
    assert not mx.runtime.Features().is_enabled('CUDA')  # this project's machines
    done = subprocess.run([GLUON_PYDMN, 'evaluate', '--ctx', 'gpu', '--model',
                           'pydmobilenet_concat_56_0.75'], capture_output=True, text=True,
                          env=ENV)
    assert done.returncode == 2 and done.stdout == ''
    assert done.stderr.splitlines() == [
        'error: this MXNet build (mxnet 1.9.1) has no GPU support; install a CUDA build such as '
        'mxnet-cu112 (pip install mxnet-cu112==1.9.1) to use a GPU']


def test_a_subcommand_reports_an_unknown_model_without_traceback():
    done = subprocess.run([GLUON_PYDMN, 'evaluate', '--model', 'pydmobilenet_56'], env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown model 'pydmobilenet_56'; valid names are this "
                                  "zoo's:")
    assert 'pydmobilenet_concat_56_0.75' in done.stderr and 'Traceback' not in done.stderr


def test_an_old_script_name_runs_its_subcommand():
    """``python experiments/train.py ...`` (old command lines, recorded in older results) is
    ``gluon-pydmn train ...``."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'train.py'),
                           '--model', 'mobilenet_29_0.5', '--ctx', 'gpu:0'], env=ENV,
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
def test_train_reports_a_refused_configuration_in_one_line(option, value, message):
    args = {'--model': 'mobilenet_29_0.5'}
    args[option] = value
    done = subprocess.run([GLUON_PYDMN, 'train'] + [w for kv in args.items() for w in kv],
                          env=ENV, capture_output=True, text=True)
    assert done.returncode == 2 and 'Traceback' not in done.stderr, done.stderr
    assert done.stderr.startswith('error: ') and message in done.stderr


@pytest.mark.parametrize('old, new', [(['--out-dir', 'results'], ['--out', 'results']),
                                      (['--out-dir=results'], ['--out', 'results']),
                                      (['--gpu', '1'], ['--ctx', 'gpu:1']),
                                      (['--gpus', '0,1'], ['--ctx', 'gpu:0,1']),
                                      (['--no-progress'], ['--no-progress'])])
def test_the_scripts_rewrite_the_old_spellings_of_recorded_commands(old, new, monkeypatch,
                                                                    capsys):
    """``python experiments/reproduce_table3.py --out-dir results`` (the command recorded in
    results written before the tool) still runs, as ``gluon-pydmn table3 --out results``."""
    seen = []
    monkeypatch.setattr(commands, 'main', lambda argv: seen.append(argv) or 0)
    assert commands.script_main('table3', old) == 0
    assert seen == [['table3'] + new]
    note = capsys.readouterr().err
    assert ('is now' in note) == (old != new)


def test_every_script_in_experiments_is_a_wrapper_of_its_subcommand():
    for path in sorted(os.listdir(os.path.join(ROOT, 'experiments'))):
        with open(os.path.join(ROOT, 'experiments', path)) as f:
            text = f.read()
        command = re.search(r"script_main\('(\w+)'\)", text)
        assert command and command.group(1) in COMMANDS, path
