"""Run every device path of the package once, in a few minutes, and say what passed.

    gluon-pydmn selfcheck --ctx gpu        # on a machine with a GPU and a CUDA build of MXNet
    gluon-pydmn selfcheck                  # the same on the CPU

Four checks, each on the chosen device: a zoo network's forward pass; the authors' weights
evaluated on 1,000 CIFAR-10 test images, against the same evaluation on the CPU; one epoch of
training on 512 images (into a temporary run folder); Table 5's timing of two networks. It
prints one line per check and exits with status 1 if any failed. On an MXNet without CUDA,
--ctx gpu stops at once with the one line that names the build to install.
"""
import tempfile
import time

import mxnet as mx
import numpy as np

from .. import cli
from ..data import CIFAR10, normalize_images
from ..evaluate import error_rate, predict
from ..model_zoo import get_model, load_trained
from ..reproduce import table5
from ..run_folder import RunSpec
from ..schema import TrainConfig
from ..train import run_training

__all__ = ['add_arguments', 'run', 'main', 'exit_status', 'CHECKS']

MODEL = 'pydmobilenet_add_29_0.25'
TIMED = ('mobilenet_56_0.5', 'pydmobilenet_add_56_0.25')


def add_arguments(p):
    """Add the options of ``gluon-pydmn selfcheck`` to the parser ``p``."""
    cli.add_ctx(p)
    cli.add_data_root(p)
    cli.add_weights_root(p)
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def _forward(args, ctx):
    net = get_model(MODEL, ctx=ctx, initialize=True)
    net.hybridize()
    out = net(mx.nd.zeros((4, 3, 32, 32), ctx=ctx)).asnumpy()
    assert out.shape == (4, 10) and np.isfinite(out).all(), 'logits %s' % (out.shape,)
    return 'logits of shape %s' % (out.shape,)


def _evaluation(args, ctx):
    test = CIFAR10(args.data_root, train=False)
    images, labels = test.images[:1000], test.labels[:1000]
    errors = {}
    for where in (mx.cpu(), ctx):
        net = load_trained(MODEL, 'cifar10', ctx=where, root=args.weights_root)
        errors[str(where)] = error_rate(predict(net, images, 500, where), labels)
    values = list(errors.values())
    assert abs(values[0] - values[-1]) <= 0.1, 'errors differ: %s' % errors
    return 'top-1 error on 1,000 test images %.1f%% (CPU %.1f%%)' % (values[-1], values[0])


def _training(args, ctx):
    spec = RunSpec(MODEL, 'cifar10', TrainConfig(epochs=1, lr_decay_epochs=(), seed=0),
                   train_images=512, test_images=500, ctx=[ctx])
    with tempfile.TemporaryDirectory() as out:
        history = run_training(spec, out, data_root=args.data_root, progress=False,
                               log=lambda line: None)
    assert len(history) == 1 and np.isfinite(history[0]['train_loss'])
    return 'one epoch on 512 images, loss %.3f' % history[0]['train_loss']


def _timing(args, ctx):
    images = normalize_images(CIFAR10(args.data_root, train=False).images[:128], ctx=ctx)
    measured = table5.measure(list(TIMED), images, ctx, root=args.weights_root, repeats=3,
                              warmup=1, progress=False)
    return ', '.join('%s %.1f ms' % (name, measured[name]['ours_ms']) for name in TIMED)


#: The checks in order: (name, function(args, ctx) -> one line on what it measured).
CHECKS = [('forward pass', _forward), ('evaluation against the CPU', _evaluation),
          ('training', _training), ('Table 5 timing', _timing)]


def run(args):
    """Run :data:`CHECKS` on ``args.ctx``, printing a line for each; return
    ``{name: (passed, line)}``."""
    ctx = cli.context(args)  # a GPU MXNet cannot use stops here, in one line
    results = {}
    for name, check in CHECKS:
        start = time.time()
        try:
            passed, line = True, check(args, ctx)
        except Exception as e:  # pylint: disable=broad-except  (a check fails, the rest run)
            passed, line = False, '%s: %s' % (type(e).__name__, str(e).strip().splitlines()[-1]
                                              if str(e).strip() else '')
        results[name] = (passed, line)
        print('%s  %-28s %s (%.0f s)' % ('ok  ' if passed else 'FAIL', name, line,
                                         time.time() - start))
    failed = [n for n, (ok, _) in results.items() if not ok]
    print('selfcheck on %s: %s' % (ctx, 'all %d checks passed' % len(CHECKS) if not failed else
                                    '%d of %d failed (%s)' % (len(failed), len(CHECKS),
                                                              ', '.join(failed))))
    return results


def exit_status(results):
    """1 if a check failed, else 0."""
    return 1 if any(not ok for ok, _ in results.values()) else 0
