"""Train a zoo network with the paper's schema; interrupted runs resume from their last epoch.

    python experiments/train.py --model pydmobilenet_concat_56_0.75 --dataset cifar10
    python experiments/train.py --model mobilenet_29_0.5 --epochs 2 --limit-train 2048  # smoke test
    python experiments/train.py --resume results/training/<run>  # a run folder, on any machine

The schema (NAG, lr 0.1 decayed 10x at epochs 150 and 225, 320 epochs, batch 128, weight decay
1e-4, mixup off for the last 20 epochs) is gluon_pydmn.schema.TrainConfig's; options override
it. The run folder (--out, default runs/<model>-<dataset>) gets state.json, the last epoch's
parameters and optimizer state, history.csv, history.png and, at the end, final.params. Run
the same command again to resume; summary.md, rewritten after every epoch, records the
command, the schema and the per-epoch table. On CPU the PydMobileNets train with their C++
pyramid operator (fast=True), with gluon_pydmn.configure_cpu()'s settings; --gpus 0,1 splits
each batch across GPUs.
"""
import dataclasses
import os

import mxnet as mx

from gluon_pydmn import cli
from gluon_pydmn.catalog import LABEL_SETS
from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.data import get_dataset
from gluon_pydmn.model_zoo import get_model
from gluon_pydmn.reproduce.paper import (GLUONCV_MODEL_ZOO, load_paper_tables, paper_error,
                                         paper_source)
from gluon_pydmn.errors import UserError
from gluon_pydmn.run_folder import read_run_spec, run_result, summary_header, write_summary
from gluon_pydmn.train import train
from gluon_pydmn.train_options import add_schema_arguments, config_from_args
from gluon_pydmn.utils import command_line


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_model(p, required=False)
    p.add_argument('--resume', metavar='DIR',
                   help='resume the run folder DIR with its own network, label set, training-set '
                        'size and schema (from its run.json or state.json), e.g. on a new machine')
    cli.add_label_set(p)
    cli.add_data_root(p)
    p.add_argument('--out', help='run folder (default runs/<model>-<dataset>)')
    add_schema_arguments(p)
    p.add_argument('--stop-after', type=cli.positive_int, help='stop after N epochs (resume later)')
    cli.add_gpus(p, several=True)
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    configure_cpu()  # before MXNet's first operator: threads, one MKL-DNN blocking for training
    if args.resume:
        config = resume_options(args)
    elif args.model:
        config = config_from_args(args)
    else:
        raise UserError('give --model NAME (a new or resumed run) or --resume DIR (a run folder)')
    ctx = cli.contexts(args)
    mx.random.seed(config.seed)  # the Xavier initialisation
    net = get_model(args.model, classes=LABEL_SETS[args.dataset].head_width, ctx=ctx,
                    fast=ctx[0].device_type == 'cpu')
    train_set = get_dataset(args.dataset, train=True, root=args.data_root)
    test_set = get_dataset(args.dataset, train=False, root=args.data_root)
    if args.limit_train and args.limit_train < len(train_set):
        train_set = train_set.subset(args.limit_train)
    out = args.out or os.path.join('runs', '%s-%s' % (args.model, args.dataset))
    print('training %s on %s (%d images) into %s: %s'
          % (args.model, args.dataset, len(train_set), out, dataclasses.asdict(config)))
    header = summary_header(args.model, args.dataset, command_line(__file__, argv), config,
                            len(train_set), note=_paper_result(args.model, args.dataset))
    history = train(net, train_set, test_set, out, config, ctx=ctx, stop_after=args.stop_after,
                    progress=not args.no_progress, model_name=args.model,
                    on_epoch_end=lambda rows: write_summary(out, header, rows))
    if history:
        result = run_result(history)
        print('test error %.2f%% at the last epoch (%d), %.2f%% at the best epoch (%d)'
              % (result['last_error'], result['last_epoch'], result['best_error'],
                 result['best_epoch']))
    return history


def resume_options(args):
    """Set ``args``' network, label set, run folder and training-set size from the run folder
    ``args.resume`` and return its schema (a :class:`TrainConfig`)."""
    spec = read_run_spec(args.resume)
    if args.model and args.model != spec['model']:
        raise UserError('%s is a run of %s, not of %s: drop --model to resume it'
                        % (args.resume, spec['model'], args.model))
    args.model, args.out = spec['model'], args.resume
    args.dataset = spec['label_set'] or args.dataset
    args.limit_train = spec['train_images'] or args.limit_train
    return spec['config']


def _paper_result(model, dataset):
    """A sentence giving the paper's error for this network, if the tables are at hand."""
    try:
        error = paper_error(load_paper_tables(), model, dataset)
    except FileNotFoundError:
        return ''
    if error is None:
        return ''
    if paper_source(model) == GLUONCV_MODEL_ZOO:
        return (" The paper quotes %.2f%% for this network on %s from GluonCV's model zoo, "
                "whose weights GluonCV trained with its own recipe, not the paper's schema."
                % (error, dataset))
    return (" The paper's Table 3 gives %.2f%% for this network on %s with its full schema "
            "(320 epochs); the authors' notebook reported the best epoch's accuracy, so the "
            "best epoch is the one to compare with it." % (error, dataset))


if __name__ == '__main__':
    cli.run(main)
