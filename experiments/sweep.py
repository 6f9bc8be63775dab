"""Table 3 by training: every (network, label set) run as a Ray task, here or on a Ray cluster.

    python experiments/sweep.py                       # the 44 runs of Table 3, paper's schema
    python experiments/sweep.py --models mobilenet_29_0.5 --epochs 1 --limit-train 256 --out DIR
    python experiments/sweep.py --address auto        # on the Ray cluster this machine is part of
    python experiments/sweep.py --collect-only        # only (re)write the table

Each run trains into --out/<model>-<label set> (default runs/sweep) with
gluon_pydmn.train.train and the schema options of experiments/train.py; a re-run of the same
command resumes unfinished runs after their last epoch and skips finished ones. Ray retries a
run whose worker or node died (--max-retries); a run that fails on its own (missing data,
divergence) is reported as failed with its reason and the others go on. One line is printed
per finished epoch across the sweep. At the end (and with --collect-only at any time without
training) --out gets table3-trained.md and table3-trained.csv: per run the last- and
best-epoch test error, the paper's Table 3 value and the released weights' error from
results/table3.csv. The exit status is 1 if a run failed.
"""
import argparse
import os
import sys

from gluon_pydmn import cli
from gluon_pydmn.catalog import LABEL_SETS
from gluon_pydmn.model_zoo import get_model_list
from gluon_pydmn.reproduce.sweep import (TABLE3_LABEL_SETS, SweepResources, collect, run_sweep,
                                         sweep_specs, write_table)
from gluon_pydmn.train_options import add_schema_arguments, config_from_args
from gluon_pydmn.utils import command_line

RELEASED_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'results',
                            'table3.csv')


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError('expected a number of at least 0, got %r' % text)
    return value


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument('--models', nargs='+', default=get_model_list(),
                   help='zoo or GluonCV CIFAR names (default: the 22 networks of Table 3)')
    p.add_argument('--datasets', nargs='+', default=list(TABLE3_LABEL_SETS),
                   choices=list(LABEL_SETS),
                   help="label sets (default %(default)s, the paper's protocol)")
    p.add_argument('--data-root', help='CIFAR folder on every node (default $GLUON_PYDMN_DATA)')
    p.add_argument('--out', default=os.path.join('runs', 'sweep'),
                   help='folder of the run folders and the table (default %(default)s; on a '
                        'cluster, on a filesystem shared by all nodes)')
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
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    specs = sweep_specs(args.models, args.datasets, config_from_args(args),
                        args.limit_train, args.limit_test)
    command = command_line(__file__, argv)
    released = os.path.normpath(RELEASED_CSV)
    if args.collect_only:
        rows = collect(specs, args.out, released_csv=released)
        paths = write_table(args.out, rows, command)
        print('table of %d runs written to %s' % (len(rows), ' and '.join(paths)))
        return rows
    resources = SweepResources(args.cpus_per_run, args.gpus_per_run, args.max_retries,
                               args.address)
    return run_sweep(specs, args.out, resources=resources, data_root=args.data_root,
                     command=command, released_csv=released)


def exit_status(rows):
    """1 if a run of the table failed, else 0."""
    return int(any(row['status'].startswith('failed') for row in rows))


if __name__ == '__main__':
    sys.exit(exit_status(cli.run(main)))
