"""The plumbing the ``gluon-pydmn`` subcommands share (:mod:`gluon_pydmn.commands`).

Options that mean the same thing are defined once here, with the same name in every
subcommand: ``--ctx`` (:func:`add_ctx`), ``--out`` (:func:`add_out`), ``--no-progress``
(:func:`add_no_progress`), ``--data-root``, ``--weights-root``, ``--paper-tables``,
``--model``, ``--dataset``. :func:`command_main` gives a subcommand module its
``main(argv=None)``. :func:`run` turns the package's user errors
(:class:`~gluon_pydmn.errors.UserError`: an unknown name, a missing or corrupt file, a
mismatched checkpoint, a GPU this MXNet cannot use) into one ``error: ...`` line on stderr
and exit status 2, as argparse does for bad options; any other exception keeps its traceback.

Locations left unset fall back to the environment (``$GLUON_PYDMN_DATA``,
``$GLUON_PYDMN_WEIGHTS``, ``$GLUON_PYDMN_PAPER_TABLES``), then to the package's defaults.
"""
import argparse
import shlex
import sys

from .catalog import LABEL_SETS
from .devices import check_contexts, parse_ctx
from .errors import UserError

__all__ = ['PROG', 'parser', 'positive_int', 'non_negative_int', 'add_model', 'add_label_set',
           'add_data_root', 'add_weights_root', 'add_paper_tables', 'add_ctx', 'add_out',
           'add_no_progress', 'add_trained_network', 'contexts', 'context', 'command_parser',
           'parse_command', 'command_main', 'command_line', 'run']

PROG = 'gluon-pydmn'


def parser(doc, prog=None):
    """An argument parser whose help starts with the docstring ``doc``."""
    return argparse.ArgumentParser(prog=prog, description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_model(p, required=True):
    """``--model``: a zoo name."""
    p.add_argument('--model', required=required,
                   help='zoo name, e.g. pydmobilenet_concat_56_0.75')


def add_label_set(p, default='cifar10', default_text='%(default)s'):
    """``--dataset``: a label set of :data:`gluon_pydmn.catalog.LABEL_SETS` (``default_text``
    says in the help what a left-out ``--dataset`` means)."""
    p.add_argument('--dataset', default=default, choices=list(LABEL_SETS),
                   help='label set (default %s): cifar100-fine is the standard 100-class task, '
                        'cifar100-coarse the 20 superclasses with a 100-output head, as the '
                        "authors trained for the paper's CIFAR-100 column" % default_text)


def add_data_root(p, help=None):
    """``--data-root``: the CIFAR folder (``help`` replaces the default help text)."""
    p.add_argument('--data-root', metavar='DIR',
                   help=help or 'CIFAR folder (default $GLUON_PYDMN_DATA, else '
                                '~/.cache/gluon_pydmn/data)')


def add_weights_root(p, help=None):
    """``--weights-root``: the authors' release or converted weights (``help`` replaces the
    default help text)."""
    p.add_argument('--weights-root', metavar='DIR',
                   help=help or "the authors' release or converted weights (default "
                                '$GLUON_PYDMN_WEIGHTS, else ~/.cache/gluon_pydmn/weights)')


def add_paper_tables(p):
    """``--paper-tables``: a JSON file of the paper's numbers replacing the package's own."""
    p.add_argument('--paper-tables', help="the paper's numbers as JSON (default "
                                          "$GLUON_PYDMN_PAPER_TABLES, else the package's own "
                                          'transcription)')


def _whole_number(text, minimum):
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError('expected a whole number of at least %d, got %r'
                                         % (minimum, text))
    return value


def positive_int(text):
    """An ``argparse`` type: a whole number of at least 1."""
    return _whole_number(text, 1)


def non_negative_int(text):
    """An ``argparse`` type: a whole number of at least 0."""
    return _whole_number(text, 0)


def _devices(text):
    """An ``argparse`` type: the contexts named by ``text`` (:func:`parse_ctx`), a list."""
    try:
        return parse_ctx(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _device(text):
    """An ``argparse`` type: the one context named by ``text``."""
    devices = _devices(text)
    if len(devices) > 1:
        raise argparse.ArgumentTypeError("this command runs on one device at a time ('cpu', "
                                         "'gpu' or 'gpu:N'), got %r" % text)
    return devices[0]


def add_ctx(p, several=False, default='cpu'):
    """``--ctx``: ``cpu``, ``gpu``, ``gpu:N`` or, with ``several``, ``gpu:N,M,...``.

    The parsed value is a Context, or with ``several`` a list of them; :func:`contexts`
    checks that MXNet can use them.
    """
    forms = "'cpu', 'gpu', 'gpu:N'" + (" or 'gpu:N,M,...' (each batch split across them)"
                                       if several else '')
    p.add_argument('--ctx', default=default, type=_devices if several else _device,
                   metavar='DEVICE', help='%s (default %s)' % (forms, default))


def add_out(p, help, default=None, **kwargs):
    """``--out``: where the subcommand writes its results; ``help`` says what it is."""
    p.add_argument('--out', default=default, help=help, **kwargs)


def add_no_progress(p):
    """``--no-progress``: no progress bars or progress lines."""
    p.add_argument('--no-progress', action='store_true', help='no progress bars or lines')


def add_trained_network(p):
    """The options that choose a trained network and its test set: ``--model``, ``--dataset``,
    ``--checkpoint`` (default: the authors' weights), ``--weights-root``, ``--data-root`` and
    ``--ctx``. ``--model`` and ``--dataset`` left out are what the checkpoint's run folder
    records (:func:`gluon_pydmn.evaluate.trained_on`)."""
    add_model(p, required=False)
    add_label_set(p, default=None, default_text="the checkpoint's run folder's, else cifar10")
    p.add_argument('--checkpoint', help="your .params file (default: the authors' weights); "
                                        "in a run folder it names the network and label set")
    add_weights_root(p)
    add_data_root(p)
    add_ctx(p)


def contexts(args):
    """The contexts of :func:`add_ctx`'s option ``args.ctx``, as a list (``[mx.cpu()]``
    without the option).

    Raises
    ------
    NoGpuError
        GPUs that this MXNet build or this machine cannot provide
        (:func:`~gluon_pydmn.devices.check_contexts`).
    """
    ctx = getattr(args, 'ctx', None) or parse_ctx('cpu')
    return check_contexts(list(ctx) if isinstance(ctx, (list, tuple)) else [ctx])


def context(args):
    """The one context of ``args.ctx``, checked as by :func:`contexts`."""
    return contexts(args)[0]


def _name(module):
    return module.__name__.rsplit('.', 1)[-1]


def command_parser(module):
    """The parser of one subcommand ``module`` alone, as ``gluon-pydmn NAME``."""
    p = parser(module.__doc__, prog='%s %s' % (PROG, _name(module)))
    module.add_arguments(p)
    return p


def parse_command(module, argv=None):
    """The options of subcommand ``module`` from ``argv`` (default ``sys.argv[1:]``), with
    ``command`` (its name) and ``argv`` (its words) added for :func:`command_line`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = command_parser(module).parse_args(argv)
    args.command, args.argv = _name(module), argv
    return args


def command_main(module_name):
    """The ``main(argv=None)`` of the subcommand module ``module_name`` (its ``__name__``):
    parse ``argv`` (default ``sys.argv[1:]``) with :func:`parse_command` and return what the
    module's ``run(args)`` returns. Errors propagate, for tests and Python callers;
    :func:`gluon_pydmn.commands.main` reports them as the command line does."""
    name = module_name.rsplit('.', 1)[-1]

    def main(argv=None):
        module = sys.modules[module_name]
        return module.run(parse_command(module, argv))
    main.__doc__ = '``%s %s`` with the words ``argv`` (default ``sys.argv[1:]``); see ``run``.' % (
        PROG, name)
    main.__module__ = module_name
    return main


def command_line(args):
    """The shell command that gives ``args`` (of :func:`parse_command` or
    :func:`gluon_pydmn.commands.main`), for recording in generated results:
    ``gluon-pydmn table3 --out results``."""
    words = [PROG, args.command] + list(args.argv)
    return ' '.join(shlex.quote(w) for w in words)


def run(main, argv=None, errors=()):
    """``main(argv)``, with the package's user errors (and ``errors``) reported as one
    ``error: ...`` line on stderr and exit status 2.

    Returns
    -------
    Whatever ``main`` returns.
    """
    try:
        return main(argv)
    except (UserError,) + tuple(errors) as e:
        print('error: %s' % e, file=sys.stderr)
        raise SystemExit(2) from None
