"""Side-by-side timing: interleaved repeats, so that noise hits every contender alike; medians,
and quartiles of per-round ratios."""
import time

import mxnet as mx
import numpy as np

from ..utils import context_list

__all__ = ['time_rounds', 'ratio_quartiles', 'inference_fn', 'train_step_fn']


def time_rounds(fns, repeats=15, warmup=2):
    """Wall times (seconds) of each zero-argument callable in ``fns``, one per round.

    Every round calls each function once, in turn, so slow phases of a noisy machine are
    shared by all of them, and round ``i`` of one contender can be compared with round ``i``
    of another (:func:`ratio_quartiles`).

    Parameters
    ----------
    fns : dict of str to callable
        Each call must block until its work is done.
    repeats : int
        Timed rounds.
    warmup : int
        Untimed rounds first (graph building, memory planning, caches).

    Returns
    -------
    dict of str to list of float
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def ratio_quartiles(numerator, denominator):
    """Median, first and third quartile of the per-round ratios ``numerator[i] / denominator[i]``
    (e.g. two contenders' times from the same :func:`time_rounds` call): how far a ratio moves
    with the machine's noise."""
    ratios = np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return float(median), float(q1), float(q3)


def inference_fn(net, x):
    """A blocking forward pass of ``net`` on ``x`` (MXNet block or any callable returning numpy)."""
    def run():
        out = net(x)
        if isinstance(out, mx.nd.NDArray):
            out.wait_to_read()
    return run


def train_step_fn(net, batch_size=128, *, classes=10, ctx=None, optimizer='nag',
                  optimizer_params=None, seed=0):
    """One blocking training step (forward, softmax cross-entropy, backward, update) on a fixed
    random batch, as in the paper's schema (NAG, lr 0.1, momentum 0.9, wd 1e-4)."""
    ctx = context_list(ctx)[0]  # a GPU this MXNet cannot use: the package's one error
    rng = np.random.RandomState(seed)
    x = mx.nd.array(rng.normal(size=(batch_size, 3, 32, 32)), ctx=ctx)
    y = mx.nd.array(rng.randint(0, classes, batch_size), ctx=ctx)
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = mx.gluon.Trainer(net.collect_params(), optimizer, optimizer_params or
                               {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1e-4})

    def step():
        with mx.autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch_size)
        mx.nd.waitall()
    return step
