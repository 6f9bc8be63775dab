"""Fit and confidence of trained weights: the authors' released ones beside our training runs.

    python experiments/signature.py             # make signature: every run in results/training
    python experiments/signature.py --runs runs/pydmobilenet_concat_29_0.25-cifar10
    python experiments/signature.py --runs --authors all --out results/signature-release.md

For each run folder (its final.params, or the last finished epoch of an unfinished run) and
for the authors' weights of the same networks: test error, error on the (unaugmented) training
set, test loss, mean top softmax probability, the share of test images predicted with more
than 0.99, and the loss on 50/50 blends of two test images against half of each label. A
network trained with mixup answers a blend with about half of each class (a loss near
ln 2 = 0.69); one trained on clean images picks a side (several nats) and is near-certain on
most clean images. And the squared norms of the convolution and dense weights and of the
BatchNorm scales, which the schema (learning rate, weight decay, length) sets more than the
seed does. Written to results/signature.md.
"""
import glob
import os

from gluon_pydmn import cli
from gluon_pydmn.catalog import MODEL_CFGS
from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.data import get_dataset
from gluon_pydmn.errors import UnknownNameError, UserError
from gluon_pydmn.model_zoo import get_model_list, load_trained
from gluon_pydmn.reproduce.signature import prediction_signature, signature_markdown, weight_norms
from gluon_pydmn.run_folder import RunFolder
from gluon_pydmn.utils import command_line, write_text

RELEASED = ('cifar10', 'cifar100-coarse')  # the label sets the authors released weights for
INTRO = ('Each row: where the weights come from and how they were trained; their top-1 error '
         'on the test set and on the unaugmented training set; the mean cross-entropy on the '
         'test set; the mean top softmax probability and the share of test images predicted '
         'with more than 0.99; and the cross-entropy of %d 50/50 blends of consecutive test '
         'images (different labels) against half of each label. A network trained with mixup '
         'answers a blend with about half of each class (near ln 2 = 0.693); one trained on '
         'clean images picks one side (several nats) and is near-certain on most clean images. '
         'The last two columns are the sums of squares of the convolution and dense weights '
         'and of the BatchNorm scales: weight decay and the gradient steps balance them at a '
         'level set by the learning rate, the weight decay and the length of training, so '
         'networks trained with the same schema end with about the same norms.')


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument('--runs', nargs='*', help='run folders (default: every folder of '
                                             'results/training with weights; none if empty)')
    p.add_argument('--authors', nargs='+', default=['runs'], metavar='NAME',
                   help="the authors' weights to add: 'runs' (those of the runs' networks, the "
                        "default), 'all' (the 22 networks of Table 3), 'none', or zoo names")
    p.add_argument('--authors-dataset', default='cifar10', choices=['cifar10', 'cifar100-coarse'],
                   help="label set of the authors' weights named by --authors all or by name "
                        '(default %(default)s)')
    p.add_argument('--pairs', type=cli.positive_int, default=2000,
                   help='number of 50/50 test-image blends (default %(default)s)')
    p.add_argument('--out', default='results/signature.md')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    cli.add_weights_root(p)
    cli.add_data_root(p)
    cli.add_gpus(p)
    return p.parse_args(argv)


def _run_folders(args):
    if args.runs is not None:
        return args.runs
    return sorted(os.path.dirname(p) for p in glob.glob('results/training/*/state.json'))


def _authors_weights(choice, label_set, run_specs):
    """(model, label set) of the authors' weights that ``--authors`` asks for."""
    if choice == ['none']:
        return []
    if choice == ['runs']:
        return sorted({(s['model'], s['label_set']) for s in run_specs
                       if s['model'] in MODEL_CFGS and s['label_set'] in RELEASED})
    names = get_model_list() if choice == ['all'] else choice
    unknown = [n for n in names if n not in MODEL_CFGS]
    if unknown:
        raise UnknownNameError("--authors: no released weights for %s; give 'runs', 'all', "
                               "'none' or zoo names: %s" % (', '.join(unknown),
                                                            ', '.join(get_model_list())))
    return [(n, label_set) for n in names]


def main(argv=None):
    args = parse_args(argv)
    configure_cpu(training=False)
    ctx = cli.contexts(args)[0]
    runs = []
    for folder in map(RunFolder, _run_folders(args)):
        spec = folder.spec()
        path, epoch = folder.weights()
        caveat = next((c for c in folder.caveats() if epoch in c), None)
        runs.append(({'model': spec.model, 'label_set': spec.label_set, 'caveat': caveat}, path,
                     'ours: `%s`, epoch %d of %d' % (folder.name, epoch, spec.config.epochs),
                     spec.config.describe()))
    authors = _authors_weights(args.authors, args.authors_dataset, [spec for spec, *_ in runs])
    jobs = [({'model': m, 'label_set': ls}, None, "the authors' release",
             "released (the paper reports its full schema)") for m, ls in authors] + runs
    if not jobs:
        raise UserError('nothing to compare: no run folder with weights (--runs) and no '
                        "authors' weights (--authors)")
    datasets, rows = {}, []
    for spec, path, weights, training in jobs:
        label_set = spec['label_set']
        if label_set not in datasets:
            datasets[label_set] = [get_dataset(label_set, train=t, root=args.data_root)
                                   for t in (False, True)]
        net = load_trained(spec['model'], label_set, checkpoint_path=path, ctx=ctx,
                           root=args.weights_root)
        net.hybridize(static_alloc=True, static_shape=True)
        row = dict(model=spec['model'], label_set=label_set, weights=weights, training=training,
                   caveat=spec.get('caveat'))
        row.update(prediction_signature(net, *datasets[label_set], pairs=args.pairs, ctx=ctx,
                                         progress=not args.no_progress))
        row.update(weight_norms(net))
        print('%s, %s: %s' % (spec['model'], weights, ', '.join(
            '%s %.3f' % (k, v) for k, v in row.items() if isinstance(v, float))), flush=True)
        rows.append(row)
    text = signature_markdown(rows, command_line(__file__, argv), INTRO % args.pairs)
    write_text(args.out, text)
    return rows


if __name__ == '__main__':
    cli.run(main)
