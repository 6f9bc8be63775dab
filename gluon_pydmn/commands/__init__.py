"""``gluon-pydmn``: the command line, one module of this package per subcommand.

``gluon-pydmn SUB ...`` (also ``python -m gluon_pydmn SUB ...``) runs subcommand ``SUB``
(:func:`main`). Each subcommand module's docstring is its help (the first line is its line in
``gluon-pydmn --help``); it defines ``add_arguments(parser)``, ``run(args)``, which returns
the subcommand's result, and ``main = cli.command_main(__name__)``, which parses ``argv`` and
runs (for tests and Python callers). Optional: ``exit_status(result)`` (the process's exit
status) and ``ERRORS`` (exceptions besides :class:`~gluon_pydmn.errors.UserError` reported as
one ``error:`` line). The options the subcommands share are defined in :mod:`gluon_pydmn.cli`.
"""
import argparse
import importlib
import sys

from ..cli import PROG, run

__all__ = ['COMMANDS', 'command_module', 'build_parser', 'main', 'script_main', 'OLD_OPTIONS']

#: The subcommands in the order ``gluon-pydmn --help`` lists them, each the name of a module
#: of this package: adding a subcommand is adding its module and its line here.
COMMANDS = [
    'download',
    'train',
    'finetune',
    'evaluate',
    'predict',
    'export',
    'table3',
    'table5',
    'tradeoff',
    'figure2',
    'runs',
    'signature',
    'claims',
    'benchmark',
    'sweep',
    'selfcheck',
]


def command_module(name):
    """The module of subcommand ``name`` (:data:`COMMANDS`)."""
    return importlib.import_module('gluon_pydmn.commands.' + name)


def _summary(module):
    """The first line of ``module``'s docstring: its line in ``gluon-pydmn --help``."""
    return module.__doc__.strip().splitlines()[0].rstrip('.')


class _CommandsFormatter(argparse.RawDescriptionHelpFormatter):
    """Lists every subcommand's help beside its name (argparse measures the names without
    their indent and would put the longest ones on a line of their own)."""

    def add_argument(self, action):
        """Add ``action``; for the subcommands, measure their names with their indent."""
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            longest = max(map(len, action.choices)) + 2 * self._indent_increment + 2
            self._action_max_length = max(self._action_max_length, longest)


_DESCRIPTION = '''\
PydMobileNet (Hoang & Jo, arXiv 1811.07083) in MXNet Gluon: the paper's networks and the
authors' weights, training, evaluation, export, and the jobs that reproduce the paper's
tables and figures. '%s SUBCOMMAND --help' describes a subcommand.''' % PROG


def build_parser():
    """The parser of ``gluon-pydmn``: one subparser per module of :data:`COMMANDS`, each with
    its docstring as help."""
    top = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION,
                                  formatter_class=_CommandsFormatter)
    sub = top.add_subparsers(dest='command', metavar='SUBCOMMAND', title='subcommands',
                             required=True)
    for name in COMMANDS:
        module = command_module(name)
        p = sub.add_parser(name, help=_summary(module).replace('%', '%%'),
                           description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
    return top


def main(argv=None):
    """``gluon-pydmn SUB ...``: parse ``argv`` (default ``sys.argv[1:]``) and run the subcommand.

    Returns
    -------
    int
        The exit status: 0, or what the subcommand's ``exit_status(result)`` says (``sweep``:
        1 if a run failed). User errors exit with status 2 (:func:`gluon_pydmn.cli.run`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv[argv.index(args.command) + 1:]
    module = command_module(args.command)
    result = run(lambda _: module.run(args), errors=getattr(module, 'ERRORS', ()))
    status = getattr(module, 'exit_status', None)
    return status(result) if status is not None else 0


#: Option spellings of the scripts before ``gluon-pydmn``, as ``{old: (new, value prefix)}``:
#: command lines recorded in older results files keep running through ``experiments/``.
OLD_OPTIONS = {'--out-dir': ('--out', ''), '--gpu': ('--ctx', 'gpu:'), '--gpus': ('--ctx', 'gpu:')}


def script_main(command, argv=None):
    """``python experiments/<script>.py ARGS``: ``gluon-pydmn COMMAND ARGS`` with the old
    spellings of :data:`OLD_OPTIONS` rewritten (and said so on stderr); returns the exit
    status."""
    words = list(sys.argv[1:] if argv is None else argv)
    out = []
    while words:
        word = words.pop(0)
        name, _, value = word.partition('=')
        if name in OLD_OPTIONS:
            new, prefix = OLD_OPTIONS[name]
            value = value or (words.pop(0) if words else '')
            print('note: %s is now %s' % (name, new), file=sys.stderr)
            out += [new, prefix + value]
        else:
            out.append(word)
    return main([command] + out)
