"""Test-set error of a zoo network with the authors' weights or your own (as timm's validate.py).

    python experiments/evaluate.py --model pydmobilenet_concat_56_0.75                 # 4.72
    python experiments/evaluate.py --model pydmobilenet_concat_56_0.75 --dataset cifar100-coarse
    python experiments/evaluate.py --model pydmobilenet_concat_29_0.25 \\
        --checkpoint runs/pydmobilenet_concat_29_0.25-cifar10/final.params --deploy

Without --checkpoint the authors' released weights are used (their CIFAR-100 weights predict
the 20 coarse labels: there are none for cifar100-fine). --deploy also scores the deploy
form (gluon_pydmn.deploy) and reports its largest logit difference.
"""
import argparse

import mxnet as mx
import numpy as np

from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.catalog import LABEL_SETS
from gluon_pydmn.data import get_dataset
from gluon_pydmn.deployment import deploy
from gluon_pydmn.evaluate import check_label_set, error_rate, predict
from gluon_pydmn.model_zoo import load_trained


def add_model_args(p):
    """The options that choose a trained network (shared with experiments/export.py)."""
    p.add_argument('--model', required=True, help='zoo name, e.g. pydmobilenet_concat_56_0.75')
    p.add_argument('--dataset', default='cifar10', choices=list(LABEL_SETS),
                   help='label set (default %(default)s)')
    p.add_argument('--checkpoint', help="your .params file (default: the authors' weights)")
    p.add_argument('--weights-root', help="the authors' weights (default $GLUON_PYDMN_WEIGHTS)")
    p.add_argument('--data-root', help='CIFAR folder (default $GLUON_PYDMN_DATA)')
    p.add_argument('--gpu', type=int, default=None, help='GPU id (untested here); default CPU')


def load_network(args):
    """(network, test set, context) chosen by :func:`add_model_args`'s options."""
    configure_cpu(training=False)
    ctx = mx.gpu(args.gpu) if args.gpu is not None else mx.cpu()
    try:  # wrong model name, label set or checkpoint: the library's message, no traceback
        net = load_trained(args.model, args.dataset, args.checkpoint, ctx=ctx,
                           root=args.weights_root)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit('error: %s' % e) from None
    test_set = get_dataset(args.dataset, train=False, root=args.data_root)
    check_label_set(net, test_set)
    net.hybridize(static_alloc=True, static_shape=True)
    return net, test_set, ctx


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.add_argument('--deploy', action='store_true', help='also score the deploy form')
    p.add_argument('--batch-size', type=int, default=500)
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    net, test_set, ctx = load_network(args)
    weights = args.checkpoint or "the authors' weights"
    logits = predict(net, test_set.images, args.batch_size, ctx, not args.no_progress, args.model)
    result = {'error': error_rate(logits, test_set.labels)}
    print('%s (%s) on %s, %d test images: top-1 error %.2f%%'
          % (args.model, weights, args.dataset, len(test_set), result['error']))
    if args.deploy:
        fast = deploy(net, ctx=ctx)
        fast_logits = predict(fast, test_set.images, args.batch_size, ctx, not args.no_progress,
                              'deploy')
        result.update(deploy_error=error_rate(fast_logits, test_set.labels),
                      deploy_max_diff=float(np.abs(fast_logits - logits).max()))
        print('deploy form (fusion %s): top-1 error %.2f%%, largest logit difference %.1e'
              % (fast.fusion, result['deploy_error'], result['deploy_max_diff']))
    return result


if __name__ == '__main__':
    main()
