"""Test-set error of a zoo network with the authors' weights or your own (as timm's validate.py).

    python experiments/evaluate.py --model pydmobilenet_concat_56_0.75                 # 4.72
    python experiments/evaluate.py --model pydmobilenet_concat_56_0.75 --dataset cifar100-coarse
    python experiments/evaluate.py --model pydmobilenet_concat_29_0.25 \\
        --checkpoint runs/pydmobilenet_concat_29_0.25-cifar10/final.params --deploy

Without --checkpoint the authors' released weights are used (their CIFAR-100 weights predict
the 20 coarse labels: there are none for cifar100-fine). --deploy also scores the deploy
form (gluon_pydmn.deploy) and reports its largest logit difference. --recompute-bn N also
scores the weights with every BatchNorm's statistics recomputed over N random augmented
training images (gluon_pydmn.evaluate.recompute_batchnorm, "precise BN").
"""
import numpy as np

from gluon_pydmn import cli
from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.data import get_dataset
from gluon_pydmn.deployment import deploy
from gluon_pydmn.errors import UserError
from gluon_pydmn.evaluate import error_rate, load_for_evaluation, predict, recompute_batchnorm


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_trained_network(p)
    p.add_argument('--deploy', action='store_true', help='also score the deploy form')
    p.add_argument('--recompute-bn', type=cli.positive_int, metavar='N',
                   help='also score the weights with their BatchNorm statistics recomputed over N '
                        'random augmented training images (e.g. 12800)')
    p.add_argument('--batch-size', type=cli.positive_int, default=500)
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    configure_cpu(training=False)
    ctx = cli.contexts(args)[0]
    net, test_set = load_for_evaluation(args.model, args.dataset, args.checkpoint,
                                        args.weights_root, args.data_root, ctx)
    if args.recompute_bn:  # refused before any work is done
        train_set = get_dataset(args.dataset, train=True, root=args.data_root)
        if args.recompute_bn > len(train_set):
            raise UserError('--recompute-bn %d: the training set has only %d images'
                            % (args.recompute_bn, len(train_set)))
    weights = args.checkpoint or "the authors' weights"
    logits = predict(net, test_set.images, args.batch_size, ctx, not args.no_progress, args.model)
    result = {'error': error_rate(logits, test_set.labels)}
    print('%s (%s) on %s, %d test images: top-1 error %.2f%%'
          % (args.model, weights, args.dataset, len(test_set), result['error']))
    if args.deploy:
        deployed = deploy(net, ctx=ctx)
        deployed_logits = predict(deployed, test_set.images, args.batch_size, ctx,
                                  not args.no_progress, 'deploy')
        result.update(deploy_error=error_rate(deployed_logits, test_set.labels),
                      deploy_max_diff=float(np.abs(deployed_logits - logits).max()))
        print('deploy form (fusion %s): top-1 error %.2f%%, largest logit difference %.1e'
              % (deployed.fusion, result['deploy_error'], result['deploy_max_diff']))
    if args.recompute_bn:
        chosen = np.random.RandomState(0).permutation(len(train_set))[:args.recompute_bn]
        layers = recompute_batchnorm(net, train_set.images[chosen], ctx=ctx,
                                     progress=not args.no_progress)
        recomputed = predict(net, test_set.images, args.batch_size, ctx, not args.no_progress,
                             args.model)
        result['recomputed_error'] = error_rate(recomputed, test_set.labels)
        print('with the statistics of its %d BatchNorm layers recomputed over %d augmented '
              'training images: top-1 error %.2f%%' % (layers, args.recompute_bn,
                                                       result['recomputed_error']))
    return result


if __name__ == '__main__':
    cli.run(main)
