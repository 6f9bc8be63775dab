"""Table 3 by training: every run a Ray task (here or on a cluster).

    gluon-pydmn sweep                      # the 44 runs of Table 3, paper's schema (make sweep)
    gluon-pydmn sweep --models mobilenet_29_0.5 --epochs 1 --limit-train 256 --out DIR
    gluon-pydmn sweep --address auto       # on the Ray cluster this machine is part of
    gluon-pydmn sweep --collect-only       # only (re)write the table

Each run trains into --out/<model>-<label set> (default runs/sweep) with
gluon_pydmn.train.train and the schema options of `gluon-pydmn train`; a re-run of the same
command resumes unfinished runs after their last epoch and skips finished ones. Ray retries a
run whose worker or node died (--max-retries); a run that fails on its own (missing data,
divergence) is reported as failed with its reason and the others go on. One line is printed
per finished epoch across the sweep (not with --no-progress). At the end (and with
--collect-only at any time without training) it writes table3-trained.md and
table3-trained.csv into --out: per run the last- and best-epoch test error, the paper's Table 3 value and
the released weights' error from --table3 (results/table3.csv of `gluon-pydmn table3`). The
exit status is 1 if a run failed.
"""
import argparse
import os

from .. import cli
from ..catalog import LABEL_SETS
from ..model_zoo import get_model_list
from ..reproduce.sweep import (TABLE3_LABEL_SETS, SweepResources, collect, run_sweep,
                               sweep_specs, write_table)
from ..train_options import add_schema_arguments, config_from_args

__all__ = ['add_arguments', 'run', 'main', 'exit_status']


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError('expected a number of at least 0, got %r' % text)
    return value


def add_arguments(p):
    """Add the options of ``gluon-pydmn sweep`` to the parser ``p``."""
    p.add_argument('--models', nargs='+', default=get_model_list(),
                   help='zoo or GluonCV CIFAR names (default: the 22 networks of Table 3)')
    p.add_argument('--datasets', nargs='+', default=list(TABLE3_LABEL_SETS),
                   choices=list(LABEL_SETS),
                   help="label sets (default %(default)s, the paper's protocol)")
    cli.add_data_root(p, help='CIFAR folder on every node (default $GLUON_PYDMN_DATA)')
    cli.add_out(p, 'folder of the run folders and the table (default %(default)s; on a '
                   'cluster, on a filesystem shared by all nodes)',
                default=os.path.join('runs', 'sweep'), metavar='DIR')
    p.add_argument('--table3', default=os.path.join('results', 'table3.csv'),
                   help="Table 3 CSV of gluon-pydmn table3, for the released weights' errors "
                        '(default %(default)s; left out if missing)')
    add_schema_arguments(p)
    p.add_argument('--address',
                   help="Ray cluster to join: 'auto' (the cluster this machine is part of) or "
                        "'ray://host:10001'; default $RAY_ADDRESS, else a Ray started here")
    p.add_argument('--cpus-per-run', type=cli.positive_int, default=1,
                   help='CPUs reserved for each run, and its OpenMP threads (default %(default)s)')
    p.add_argument('--gpus-per-run', type=_non_negative,
                   help='GPUs reserved for each run; with 2 or more each batch is split across '
                        'them (default 1 if the cluster has GPUs, else 0)')
    p.add_argument('--max-retries', type=int, default=3,
                   help='retries of a run whose worker or node died (default %(default)s)')
    p.add_argument('--collect-only', action='store_true',
                   help='write the table from the run folders, train nothing')
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def run(args):
    """Train the runs the options ``args`` ask for (or only collect them) and write the table.

    Returns
    -------
    list of dict
        The table's rows (:func:`gluon_pydmn.reproduce.sweep.collect`).
    """
    specs = sweep_specs(args.models, args.datasets, config_from_args(args),
                        args.limit_train, args.limit_test)
    command = cli.command_line(args)
    if args.collect_only:
        rows = collect(specs, args.out, released_csv=args.table3)
        paths = write_table(args.out, rows, command)
        print('table of %d runs written to %s' % (len(rows), ' and '.join(paths)))
        return rows
    resources = SweepResources(args.cpus_per_run, args.gpus_per_run, args.max_retries,
                               args.address)
    return run_sweep(specs, args.out, resources=resources, data_root=args.data_root,
                     command=command, released_csv=args.table3, progress=not args.no_progress)


def exit_status(rows):
    """1 if a run of the table failed, else 0."""
    return int(any(row['status'].startswith('failed') for row in rows))
