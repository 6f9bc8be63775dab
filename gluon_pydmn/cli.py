"""Command-line plumbing shared by ``experiments/*.py`` and ``python -m gluon_pydmn.data|pretrained``.

Every script is a ``main(argv=None)`` function that builds its options with :func:`parser` and
the ``add_*`` helpers below, returns its result (so that tests call it directly), and runs
as ``cli.run(main)``. :func:`run` turns the package's user errors
(:class:`~gluon_pydmn.errors.UserError`: an unknown name, a missing or corrupt file, a
mismatched checkpoint) into one ``error: ...`` line on stderr and exit status 2, as argparse
does for bad options; any other exception keeps its traceback.

Locations left unset fall back to the environment (``$GLUON_PYDMN_DATA``,
``$GLUON_PYDMN_WEIGHTS``, ``$GLUON_PYDMN_PAPER_TABLES``), then to the package's defaults.
"""
import argparse
import sys

import mxnet as mx

from .catalog import LABEL_SETS
from .devices import check_contexts, parse_ctx
from .errors import UserError

__all__ = ['parser', 'positive_int', 'non_negative_int', 'add_model', 'add_label_set',
           'add_data_root', 'add_weights_root', 'add_paper_tables', 'add_gpus',
           'add_trained_network', 'contexts', 'run']


def parser(doc):
    """An argument parser whose help starts with the script's docstring ``doc``."""
    return argparse.ArgumentParser(description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_model(p, required=True):
    """``--model``: a zoo name."""
    p.add_argument('--model', required=required,
                   help='zoo name, e.g. pydmobilenet_concat_56_0.75')


def add_label_set(p, default='cifar10'):
    """``--dataset``: a label set of :data:`gluon_pydmn.catalog.LABEL_SETS`."""
    p.add_argument('--dataset', default=default, choices=list(LABEL_SETS),
                   help='label set (default %(default)s): cifar100-fine is the standard '
                        '100-class task, cifar100-coarse the 20 superclasses with a 100-output '
                        "head, as the authors trained for the paper's CIFAR-100 column")


def add_data_root(p):
    """``--data-root``: the CIFAR folder."""
    p.add_argument('--data-root', help='CIFAR folder (default $GLUON_PYDMN_DATA, else '
                                       '~/.cache/gluon_pydmn/data)')


def add_weights_root(p):
    """``--weights-root``: the authors' release or converted weights."""
    p.add_argument('--weights-root', help="the authors' release or converted weights (default "
                                          '$GLUON_PYDMN_WEIGHTS, else ~/.cache/gluon_pydmn/weights)')


def add_paper_tables(p):
    """``--paper-tables``: a JSON file of the paper's numbers replacing the package's own."""
    p.add_argument('--paper-tables', help="the paper's numbers as JSON (default "
                                          "$GLUON_PYDMN_PAPER_TABLES, else the package's own "
                                          'transcription)')


def _gpu_ids(text):
    try:
        return [ctx.device_id for ctx in parse_ctx('gpu:' + text)]
    except ValueError:
        raise argparse.ArgumentTypeError('expected distinct comma-separated GPU ids such as 0,1, '
                                         'got %r' % text) from None


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


def add_gpus(p, several=False):
    """``--gpus 0,1`` (``several``) or ``--gpu 0``; the default is the CPU."""
    if several:
        p.add_argument('--gpus', type=_gpu_ids, default=[],
                       help='comma-separated GPU ids, e.g. 0 or 0,1: each batch is split across '
                            'them; default CPU')
    else:
        p.add_argument('--gpu', type=int, default=None, help='GPU id; default CPU')


def add_trained_network(p):
    """The options that choose a trained network and its test set: ``--model``, ``--dataset``,
    ``--checkpoint`` (default: the authors' weights), ``--weights-root``, ``--data-root`` and
    ``--gpu`` (see :func:`gluon_pydmn.evaluate.load_for_evaluation`)."""
    add_model(p)
    add_label_set(p)
    p.add_argument('--checkpoint', help="your .params file (default: the authors' weights)")
    add_weights_root(p)
    add_data_root(p)
    add_gpus(p)


def contexts(args):
    """The contexts chosen by :func:`add_gpus`'s option: GPUs, or ``[mx.cpu()]``.

    Raises
    ------
    NoGpuError
        GPUs that this MXNet build or this machine cannot provide
        (:func:`~gluon_pydmn.devices.check_contexts`).
    """
    ids = getattr(args, 'gpus', None)
    if ids is None:
        ids = [] if getattr(args, 'gpu', None) is None else [args.gpu]
    return check_contexts([mx.gpu(i) for i in ids] or [mx.cpu()])


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
