"""Speed measurements for Table 5's networks: training steps and inference, side by side.

Each contender is timed in the same process, interleaved round by round
(:func:`gluon_pydmn.reproduce.timing.time_rounds`), because a shared machine is noisy: times
are medians, ratios are medians of the per-round ratios with their quartiles.
"""
import datetime
import os
import tempfile
import warnings

import numpy as np
from tqdm import tqdm

from ..catalog import MODEL_CFGS, ModelCfg
from ..counting import count_flops
from ..deployment import deploy
from ..export import OnnxModel, export_onnx
from ..model_zoo import CoarseLabelWarning, get_cifar_net, get_model
from ..pretrained import authors_graph
from .timing import inference_fn, ratio_quartiles, time_rounds, train_step_fn

__all__ = ['inference_rows', 'training_rows', 'to_markdown']


def inference_rows(names, images, root=None, batch_sizes=(128, 1), repeats=(21, 41), ctx=None,
                   *, progress=True):
    """Inference time of the authors' graph, our deploy mode and ONNX Runtime.

    Parameters
    ----------
    names : list of str
        Zoo names.
    images : NDArray
        Normalised test images, at least ``max(batch_sizes)`` of them; the deploy mode's and the
        ONNX model's logits on them are checked against the authors' graph first.
    progress : bool
        Show a progress bar.
    """
    rows = []
    for name in tqdm(names, desc='inference', disable=not progress):
        theirs = authors_graph(name, root, ctx)
        theirs.hybridize(static_alloc=True, static_shape=True)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', CoarseLabelWarning)
            ours = deploy(get_model(name, pretrained=True, root=root, ctx=ctx), ctx=ctx)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_model = OnnxModel(export_onnx(ours, os.path.join(tmp, 'model.onnx')))
        x = images[:max(batch_sizes)]
        expected = theirs(x).asnumpy()
        row = {'model': name, 'fusion': ours.fusion,
               'deploy_max_diff': float(np.abs(ours(x).asnumpy() - expected).max()),
               'onnx_max_diff': float(np.abs(onnx_model(x) - expected).max())}
        for batch, reps in zip(batch_sizes, repeats):
            xb = images[:batch]
            t = time_rounds({'authors': inference_fn(theirs, xb),
                             'deploy': inference_fn(ours, xb),
                             'onnx': inference_fn(onnx_model, xb.asnumpy())}, repeats=reps)
            for key, value in t.items():
                row['%s_ms_b%d' % (key, batch)] = 1000 * float(np.median(value))
            for key in ('deploy', 'onnx'):  # speed-up over the authors' graph, round by round
                row['%s_speedup_b%d' % (key, batch)] = ratio_quartiles(t['authors'], t[key])
        rows.append(row)
    return rows


def training_rows(specs, root=None, batch_size=128, repeats=5, ctx=None, reference=None,
                  *, progress=True):
    """Training-step time (forward, backward, NAG update) of ours and of the authors' graph.

    Ours is built with ``fast=True`` (each pyramid as one C++ operator). Call
    :func:`gluon_pydmn.configure_cpu` first (before MXNet runs anything) for the CPU setting
    the package recommends for training.

    Parameters
    ----------
    specs : list of (family, depth, multiplier)
        Networks to time; those in the zoo are also timed as the authors' released graph
        (which must then be under ``root``).
    reference : (family, depth, multiplier), optional
        A network (ours) timed in the same interleaved rounds as every spec, so that per-MAC
        ratios to it compare steps measured side by side (``reference_s``, ``reference_mmacs``).
    progress : bool
        Show a progress bar.
    """
    ref_step = ref_mmacs = None
    if reference is not None:
        ref_net = get_cifar_net(*reference, ctx=ctx, fast=True, initialize=True)
        ref_net.hybridize(static_alloc=True, static_shape=True)
        ref_step, ref_mmacs = train_step_fn(ref_net, batch_size, ctx=ctx), count_flops(ref_net) / 1e6
    rows = []
    for family, depth, multiplier in tqdm(specs, desc='training', disable=not progress):
        ours = get_cifar_net(family, depth, multiplier, ctx=ctx, fast=True, initialize=True)
        ours.hybridize(static_alloc=True, static_shape=True)
        name = ModelCfg(family, depth, multiplier).name
        fns = {'ours': train_step_fn(ours, batch_size, ctx=ctx)}
        if name in MODEL_CFGS:
            theirs = authors_graph(name, root, ctx)
            theirs.hybridize(static_alloc=True, static_shape=True)
            fns['authors'] = train_step_fn(theirs, batch_size, ctx=ctx)
        if ref_step is not None:
            fns['reference'] = ref_step
        t = time_rounds(fns, repeats=repeats)
        median = {key: float(np.median(value)) for key, value in t.items()}
        mmacs = count_flops(ours) / 1e6
        rows.append({'model': name, 'mmacs': mmacs, 'ours_s': median['ours'],
                     'authors_s': median.get('authors'), 'reference_s': median.get('reference'),
                     'reference_mmacs': ref_mmacs,
                     # per-round ratios: ours / authors, and per-MAC cost relative to the reference
                     'ours_vs_authors': (ratio_quartiles(t['ours'], t['authors'])
                                         if 'authors' in t else None),
                     'per_mac_vs_reference': (ratio_quartiles(
                         np.asarray(t['ours']) / mmacs, np.asarray(t['reference']) / ref_mmacs)
                         if 'reference' in t else None)})
    return rows


def _ratio(quartiles, unit='x'):
    """``1.43x (1.40-1.47)``: median and quartiles of per-round ratios."""
    median, q1, q3 = quartiles
    return '%.2f%s (%.2f-%.2f)' % (median, unit, q1, q3)


def _training_markdown(training, reference):
    lines = ['## Training step, batch 128 (forward, backward, NAG update)', '',
             'Ours: `get_cifar_net(..., fast=True)` (each pyramid as one C++ operator, '
             '`gluon_pydmn/csrc/depthwise.cc`; same parameters and gradients). Both contenders '
             'run in one process with `gluon_pydmn.configure_cpu()` (%s). Per-MAC cost relative '
             'to ours of %s, which is timed in the same interleaved rounds as every row (its '
             'step time in the reference column); the targets are at most 2x for the '
             'PydMobileNets and 1.5x for any MobileNet.'
             % (', '.join('%s=%s' % kv for kv in sorted(training['cpu'].items())), reference), '',
             "| model | MMACs | authors' graph (s) | ours (s) | ours / authors | ms per MMAC (ours) "
             '| %s in the same rounds (s) | per-MAC cost vs it | target | met |' % reference,
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in training['rows']:
        rel = r['per_mac_vs_reference']
        target = 2.0 if r['model'].startswith('pyd') else 1.5
        lines.append('| %s | %.1f | %s | %.3f | %s | %.2f | %.3f | %s | %.1fx | %s |' % (
            r['model'], r['mmacs'], '%.3f' % r['authors_s'] if r['authors_s'] else 'n/a',
            r['ours_s'], _ratio(r['ours_vs_authors'], '') if r['ours_vs_authors'] else 'n/a',
            1000 * r['ours_s'] / r['mmacs'], r['reference_s'], _ratio(rel), target,
            'yes' if rel[0] <= target else '**no**'))
    return lines + ['']


def _inference_markdown(rows, paper_ms):
    lines = ['## Inference, batch 128', '',
             'Deploy mode (`gluon_pydmn.deploy`, MKL-DNN fusion noted) and its ONNX export in '
             "ONNX Runtime against the authors' released graph. Max |logit difference| to the "
             "authors' graph on 128 CIFAR-10 test images in the last two columns. The paper's "
             'Table 5 CPU time was measured on an Intel Core i7-4770, so it is only context.', '',
             "| model | paper CPU (ms) | authors' graph (ms) | deploy (ms) | speed-up | ONNX "
             'Runtime (ms) | speed-up | fusion | deploy diff | ONNX diff |',
             '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|']
    for r in rows:
        lines.append('| %s | %s | %.1f | %.1f | %s | %.1f | %s | %s | %.1e | %.1e |' % (
            r['model'], '%.0f' % paper_ms[r['model']] if r['model'] in paper_ms else 'n/a',
            r['authors_ms_b128'], r['deploy_ms_b128'], _ratio(r['deploy_speedup_b128']),
            r['onnx_ms_b128'], _ratio(r['onnx_speedup_b128']), r['fusion'],
            r['deploy_max_diff'], r['onnx_max_diff']))
    lines += ['', '## Inference latency, batch 1', '',
              "| model | authors' graph (ms) | deploy (ms) | speed-up | ONNX Runtime (ms) | "
              'speed-up |', '|---|---:|---:|---:|---:|---:|']
    for r in rows:
        lines.append('| %s | %.2f | %.2f | %s | %.2f | %s |' % (
            r['model'], r['authors_ms_b1'], r['deploy_ms_b1'], _ratio(r['deploy_speedup_b1']),
            r['onnx_ms_b1'], _ratio(r['onnx_speedup_b1'])))
    return lines


def to_markdown(training, inference, paper_ms, reference, command, machine):
    """``results/benchmark.md``.

    Parameters
    ----------
    training : dict or None
        ``{'cpu': configure_cpu's settings, 'rows': training_rows(...)}``; None leaves the
        training section out.
    inference : list of dict
        :func:`inference_rows`.
    paper_ms : dict
        Zoo name -> the paper's Table 5 CPU time (ms), for context.
    reference : str
        The zoo name whose per-MAC training cost the rows are compared with.
    command, machine : str
        The command that ran and :func:`~gluon_pydmn.machine.machine_line`.
    """
    header = ['# Benchmark', '',
              'Generated by `%s` on %s; do not edit by hand. Machine: %s. '
              'Times are medians of interleaved repeats in this one run. A ratio is the median '
              'of the per-round ratios, with their first and third quartiles in brackets: how '
              "far it moves with the machine's noise." % (
                  command, datetime.date.today().isoformat(), machine), '']
    lines = _training_markdown(training, reference) if training else []
    return '\n'.join(header + lines + _inference_markdown(inference, paper_ms)) + '\n'
