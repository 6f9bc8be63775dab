"""Train a zoo network with the paper's schema; interrupted runs resume from their last epoch.

    python experiments/train.py --model pydmobilenet_concat_56_0.75 --dataset cifar10
    python experiments/train.py --model mobilenet_29_0.5 --epochs 2 --limit-train 2048  # smoke test

The schema (NAG, lr 0.1 decayed 10x at epochs 150 and 225, 320 epochs, batch 128, weight decay
1e-4, mixup off for the last 20 epochs) is gluon_pydmn.train.TrainConfig's; options override
it. The run folder (--out, default runs/<model>-<dataset>) gets state.json, the last epoch's
parameters and optimizer state, history.csv, history.png and, at the end, final.params. Run
the same command again to resume; summary.md, rewritten after every epoch, records the
command, the schema and the per-epoch table. On CPU the PydMobileNets train with their C++
pyramid operator (fast=True), with gluon_pydmn.configure_cpu()'s settings; --gpus 0,1 splits
each batch across GPUs (untested here).
"""
import argparse
import dataclasses
import datetime
import os

import mxnet as mx

from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.catalog import LABEL_SETS, MODEL_CFGS
from gluon_pydmn.data import get_dataset
from gluon_pydmn.model_zoo import get_model
from gluon_pydmn.reproduce.paper import load_paper_tables, table3_error
from gluon_pydmn.train import TrainConfig, history_markdown, train
from gluon_pydmn.utils import atomic_path, command_line

DEFAULTS = TrainConfig()


def _gpu_ids(text):
    try:
        ids = [int(i) for i in text.split(',')]
    except ValueError:
        ids = []
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise argparse.ArgumentTypeError('expected distinct comma-separated GPU ids such as 0,1, '
                                         'got %r' % text)
    return ids


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True, help='zoo name, e.g. pydmobilenet_concat_56_0.75')
    p.add_argument('--dataset', default='cifar10', choices=list(LABEL_SETS),
                   help='label set (default %(default)s): cifar100-fine is the standard 100-class '
                        'task, cifar100-coarse the 20 superclasses with a 100-output head, as '
                        "the authors trained for the paper's CIFAR-100 column")
    p.add_argument('--data-root', help='CIFAR folder (default $GLUON_PYDMN_DATA)')
    p.add_argument('--out', help='run folder (default runs/<model>-<dataset>)')
    p.add_argument('--epochs', type=int, default=DEFAULTS.epochs)
    p.add_argument('--batch-size', type=int, default=DEFAULTS.batch_size)
    p.add_argument('--lr', type=float, default=DEFAULTS.learning_rate)
    p.add_argument('--lr-decay-epochs', type=int, nargs='*', default=list(DEFAULTS.lr_decay_epochs))
    p.add_argument('--wd', type=float, default=DEFAULTS.weight_decay)
    p.add_argument('--mixup-alpha', type=float, default=DEFAULTS.mixup_alpha,
                   help='0 turns mixup off (default %(default)s)')
    p.add_argument('--mixup-off-last-epochs', type=int, default=DEFAULTS.mixup_off_last_epochs)
    p.add_argument('--seed', type=int, default=DEFAULTS.seed)
    p.add_argument('--limit-train', type=int, help='train on the first N training images only')
    p.add_argument('--stop-after', type=int, help='stop after N epochs (resume later)')
    p.add_argument('--gpus', type=_gpu_ids, default=[],
                   help='comma-separated GPU ids, e.g. 0 or 0,1: each batch is split across them '
                        '(untested here); default CPU')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    configure_cpu()  # before MXNet's first operator: threads, one MKL-DNN blocking for training
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                         lr_decay_epochs=tuple(args.lr_decay_epochs), weight_decay=args.wd,
                         mixup_alpha=args.mixup_alpha,
                         mixup_off_last_epochs=args.mixup_off_last_epochs, seed=args.seed)
    ctx = [mx.gpu(i) for i in args.gpus] or [mx.cpu()]
    mx.random.seed(config.seed)  # the Xavier initialisation
    net = get_model(args.model, classes=LABEL_SETS[args.dataset].head_width, ctx=ctx,
                    fast=ctx[0].device_type == 'cpu')
    train_set = get_dataset(args.dataset, train=True, root=args.data_root)
    test_set = get_dataset(args.dataset, train=False, root=args.data_root)
    if args.limit_train:
        train_set = train_set.subset(args.limit_train)
    out = args.out or os.path.join('runs', '%s-%s' % (args.model, args.dataset))
    print('training %s on %s (%d images) into %s: %s'
          % (args.model, args.dataset, len(train_set), out, dataclasses.asdict(config)))
    header = summary_header(command_line(__file__, argv), args, config, len(train_set))
    history = train(net, train_set, test_set, out, config, ctx=ctx, stop_after=args.stop_after,
                    progress=not args.no_progress, model_name=args.model,
                    on_epoch_end=lambda rows: write_summary(out, header, rows))
    if history:
        print('last epoch %d: test error %.2f%%' % (history[-1]['epoch'], history[-1]['test_error']))
    return history


def summary_header(command, args, config, n_train):
    """How the run was made: the first lines of ``summary.md`` (``{date}`` and ``{epochs_done}``
    are filled in when it is written)."""
    return ('# %s on %s\n\nGenerated by `%s` on {date} with MXNet %s; do not edit by hand. '
            '%d training images, {epochs_done} of %d epochs done. Schema: %s.%s\n\n'
            % (args.model, args.dataset, command, mx.__version__, n_train, config.epochs,
               ', '.join('%s=%s' % kv for kv in dataclasses.asdict(config).items()),
               _paper_result(args.model, args.dataset)))


def write_summary(out, header, history):
    """``summary.md`` in the run folder: ``header`` and the per-epoch results so far."""
    text = (header.replace('{epochs_done}', str(history[-1]['epoch']))
            .replace('{date}', datetime.date.today().isoformat()))
    with atomic_path(os.path.join(out, 'summary.md')) as tmp, open(tmp, 'w') as f:
        f.write(text + history_markdown(history))


def _paper_result(model, dataset):
    """A sentence giving the paper's Table 3 error for this network, if the tables are at hand."""
    try:
        tables = load_paper_tables()
    except FileNotFoundError:
        return ''
    error = table3_error(tables, MODEL_CFGS[model].paper_name, dataset)
    return ('' if error is None else
            " The paper's Table 3 gives %.2f%% test error for this network on %s with its full "
            "schema (320 epochs)." % (error, dataset))


if __name__ == '__main__':
    main()
