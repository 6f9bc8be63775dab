"""Fit and confidence of trained weights and the authors'.

    gluon-pydmn signature              # make signature: every run in results/training
    gluon-pydmn signature --runs runs/pydmobilenet_concat_29_0.25-cifar10
    gluon-pydmn signature --runs --authors all --out results/signature-release.md

For each run folder (its final.params, or the last finished epoch of an unfinished run) and
for the authors' weights of the same networks: test error, error on the (unaugmented) training
set, test loss, mean top softmax probability, the share of test images predicted with more
than 0.99, and the loss on 50/50 blends of two test images against half of each label. A
network trained with mixup answers a blend with about half of each class (a loss near
ln 2 = 0.69); one trained on clean images picks a side (several nats) and is near-certain on
most clean images. And the squared norms of the convolution and dense weights and of the
BatchNorm scales, which the schema (learning rate, weight decay, length) sets more than the
seed does. Written to --out (default results/signature.md).
"""
import glob
import os

from .. import cli
from ..catalog import MODEL_CFGS
from ..cpu import configure_cpu
from ..data import get_dataset
from ..errors import UnknownNameError, UserError
from ..model_zoo import get_model_list, load_trained
from ..reproduce.signature import prediction_signature, signature_markdown, weight_norms
from ..run_folder import RunFolder
from ..utils import write_text

__all__ = ['add_arguments', 'run', 'main']

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


def add_arguments(p):
    """Add the options of ``gluon-pydmn signature`` to the parser ``p``."""
    p.add_argument('--runs', nargs='*', metavar='DIR',
                   help='run folders (default: every folder of results/training with weights; '
                        'none if empty)')
    p.add_argument('--authors', nargs='+', default=['runs'], metavar='NAME',
                   help="the authors' weights to add: 'runs' (those of the runs' networks, the "
                        "default), 'all' (the 22 networks of Table 3), 'none', or zoo names")
    p.add_argument('--authors-dataset', default='cifar10', choices=list(RELEASED),
                   help="label set of the authors' weights named by --authors all or by name "
                        '(default %(default)s)')
    p.add_argument('--pairs', type=cli.positive_int, default=2000,
                   help='number of 50/50 test-image blends (default %(default)s)')
    cli.add_out(p, 'markdown file (default %(default)s)', default='results/signature.md')
    cli.add_no_progress(p)
    cli.add_weights_root(p)
    cli.add_data_root(p)
    cli.add_ctx(p)


main = cli.command_main(__name__)


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


def _jobs(args):
    """``(spec, weights path, weights description, training description)`` of each row: the
    authors' weights, then the runs'.

    Raises
    ------
    UserError
        Nothing to compare.
    """
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
    return jobs


def run(args):
    """Measure the signature of every set of weights ``args`` names and write the table.

    Returns
    -------
    list of dict
        One row per set of weights (:func:`gluon_pydmn.reproduce.signature.signature_markdown`).
    """
    configure_cpu(training=False)
    ctx = cli.context(args)
    datasets, rows = {}, []
    for spec, path, weights, training in _jobs(args):
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
    text = signature_markdown(rows, cli.command_line(args), INTRO % args.pairs)
    write_text(args.out, text)
    return rows
