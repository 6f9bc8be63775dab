"""Test error of a network with the authors' weights or yours.

    gluon-pydmn evaluate --model pydmobilenet_concat_56_0.75                 # 4.72
    gluon-pydmn evaluate --model pydmobilenet_concat_56_0.75 --dataset cifar100-coarse
    gluon-pydmn evaluate --checkpoint runs/pydmobilenet_concat_29_0.25-cifar10/final.params --deploy

As timm's validate.py. Without --checkpoint the authors' released weights are used (their
CIFAR-100 weights predict the 20 coarse labels: there are none for cifar100-fine); a
checkpoint in a run folder names its network and label set (--model, --dataset optional).
--deploy also scores the deploy form (gluon_pydmn.deploy) and reports its largest logit
difference.
--recompute-bn N also scores the weights with every BatchNorm's statistics recomputed over N
random augmented training images (gluon_pydmn.evaluate.recompute_batchnorm, "precise BN").
"""

import numpy as np

from .. import cli
from ..cpu import configure_cpu
from ..data import get_dataset
from ..deployment import deploy
from ..errors import UserError
from ..evaluate import (error_rate, load_for_evaluation, predict, recompute_batchnorm,
                        trained_on)

__all__ = ['add_arguments', 'run', 'main']


def add_arguments(p):
    """Add the options of ``gluon-pydmn evaluate`` to the parser ``p``."""
    cli.add_trained_network(p)
    p.add_argument('--deploy', action='store_true', help='also score the deploy form')
    p.add_argument('--recompute-bn', type=cli.positive_int, metavar='N',
                   help='also score the weights with their BatchNorm statistics recomputed over N '
                        'random augmented training images (e.g. 12800)')
    p.add_argument('--batch-size', type=cli.positive_int, default=500)
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def run(args):
    """Score the network the options ``args`` choose; print and return the errors.

    Returns
    -------
    dict
        ``error`` (top-1, percent), and with ``--deploy`` ``deploy_error`` and
        ``deploy_max_diff``, with ``--recompute-bn`` ``recomputed_error``.
    """
    configure_cpu(training=False)
    ctx = cli.context(args)
    args.model, args.dataset = trained_on(args.model, args.dataset, args.checkpoint)
    net, test_set = load_for_evaluation(args.model, args.dataset, args.checkpoint,
                                        args.weights_root, args.data_root, ctx)
    train_set = _recompute_bn_images(args)  # refused before any work is done
    weights = args.checkpoint or "the authors' weights"
    progress = not args.no_progress
    logits = predict(net, test_set.images, args.batch_size, ctx, progress, args.model)
    result = {'error': error_rate(logits, test_set.labels)}
    print('%s (%s) on %s, %d test images: top-1 error %.2f%%'
          % (args.model, weights, args.dataset, len(test_set), result['error']))
    if args.deploy:
        deployed = deploy(net, ctx=ctx)
        deployed_logits = predict(deployed, test_set.images, args.batch_size, ctx, progress,
                                  'deploy')
        result.update(deploy_error=error_rate(deployed_logits, test_set.labels),
                      deploy_max_diff=float(np.abs(deployed_logits - logits).max()))
        print('deploy form (fusion %s): top-1 error %.2f%%, largest logit difference %.1e'
              % (deployed.fusion, result['deploy_error'], result['deploy_max_diff']))
    if args.recompute_bn:
        result['recomputed_error'] = _recomputed_error(net, train_set, test_set, args, ctx)
    return result


def _recompute_bn_images(args):
    """The training set ``--recompute-bn`` draws from (None without it).

    Raises
    ------
    UserError
        ``--recompute-bn`` asks for more images than the training set has.
    """
    if not args.recompute_bn:
        return None
    train_set = get_dataset(args.dataset, train=True, root=args.data_root)
    if args.recompute_bn > len(train_set):
        raise UserError('--recompute-bn %d: the training set has only %d images'
                        % (args.recompute_bn, len(train_set)))
    return train_set


def _recomputed_error(net, train_set, test_set, args, ctx):
    """The test error of ``net`` with its BatchNorm statistics recomputed over
    ``args.recompute_bn`` random augmented training images (printed)."""
    progress = not args.no_progress
    chosen = np.random.RandomState(0).permutation(len(train_set))[:args.recompute_bn]
    layers = recompute_batchnorm(net, train_set.images[chosen], ctx=ctx, progress=progress)
    recomputed = predict(net, test_set.images, args.batch_size, ctx, progress, args.model)
    error = error_rate(recomputed, test_set.labels)
    print('with the statistics of its %d BatchNorm layers recomputed over %d augmented '
          'training images: top-1 error %.2f%%' % (layers, args.recompute_bn, error))
    return error
