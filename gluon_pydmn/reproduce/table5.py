"""The paper's Table 5: inference time of the 11 Net-56 networks for one batch of 128, on the
CPU or a GPU, in the paper's layout with the paper's numbers beside ours.

The paper's protocol: hybridized networks (``static_alloc``, ``static_shape``), warm-up, then
repeated forward passes of one batch, each ending with ``wait_to_read``; times are medians
with their quartiles. The contenders of one network run in interleaved rounds
(:func:`~gluon_pydmn.reproduce.timing.time_rounds`) so that the machine's noise hits them alike:

* ``authors``: the authors' released graph, a check on the harness (it should time like
  ``ours``);
* ``ours``: this package's network with the released weights, the network as the paper timed it;
* ``deploy``: its :func:`~gluon_pydmn.deploy` form;
* ``onnx``: on a CPU context only, the deploy form exported to ONNX and run by ONNX Runtime.

One ``ctx`` reaches every array and network; nothing CPU-specific (MKL-DNN fusion, the C++
operator) is applied on a GPU context. Every table carries a description of the machine
(:func:`~gluon_pydmn.machine.machine_info`): figures from different machines
are not comparable.
"""
import datetime
import os
import tempfile
import warnings

import mxnet as mx
import numpy as np
from tqdm import tqdm

from .. import tables
from ..catalog import MODEL_CFGS
from ..counting import count_flops, count_params
from ..deployment import deploy
from ..export import OnnxModel, export_onnx
from ..model_zoo import CoarseLabelWarning, get_model
from ..pretrained import authors_graph
from ..machine import machine_line
from ..utils import context_list
from .paper import model_of_row
from .timing import inference_fn, ratio_quartiles, time_rounds

__all__ = ['CONTENDERS', 'COLUMNS', 'TABLE5_MODELS', 'contenders', 'measure_model',
           'build_rows', 'to_csv', 'read_csv', 'to_markdown', 'ABOUT_AS_FAST', 'ranking_claims',
           'claim_sentences', 'measure', 'to_document']

# (key, markdown header) of the timed contenders, in the order of the rounds and the table
CONTENDERS = (('authors', "authors' graph"), ('ours', 'ours'), ('deploy', 'deploy form'),
              ('onnx', 'ONNX Runtime'))

TABLE5_MODELS = tuple(name for name, cfg in MODEL_CFGS.items() if cfg.depth == 56 and (
    cfg.family != 'resnet' or cfg.multiplier == 0.5))
"""Zoo names of Table 5's rows, in the zoo's (and the paper's) order."""


def contenders(ctx):
    """Keys of :data:`CONTENDERS` timed on ``ctx`` (no ONNX Runtime on a GPU context)."""
    return [key for key, _ in CONTENDERS if key != 'onnx' or ctx.device_type == 'cpu']


def measure_model(name, images, ctx=None, *, root=None, repeats=21, warmup=3):
    """Time one network's contenders side by side on one batch.

    Parameters
    ----------
    name : str
        Zoo name (a CIFAR-10 model).
    images : NDArray
        One batch of normalised images on ``ctx`` (e.g. 128 CIFAR-10 test images); every
        contender's logits on it are compared with the authors' graph's before timing.
    ctx : Context, default ``mx.cpu()``
    root : str, optional
        The authors' release (default ``$GLUON_PYDMN_WEIGHTS``).
    repeats, warmup : int
        Timed and untimed rounds of :func:`~gluon_pydmn.reproduce.timing.time_rounds`.

    Returns
    -------
    dict
        ``<key>_ms``, ``<key>_q1_ms``, ``<key>_q3_ms`` and ``<key>_max_diff`` for every
        contender key; ``ours_vs_authors`` and ``<key>_speedup`` (authors' time over the
        key's) as per-round (median, q1, q3); ``params``, ``flops`` (multiply-accumulates
        per image), ``fusion``, ``batch_size``, ``repeats``.
    """
    ctx = context_list(ctx)[0]  # a GPU this MXNet cannot use: the package's one error
    keys = contenders(ctx)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', CoarseLabelWarning)
        ours = get_model(name, pretrained=True, root=root, ctx=ctx)
    params, flops = count_params(ours), count_flops(ours)
    nets = {'authors': authors_graph(name, root, ctx), 'ours': ours}
    for key in ('authors', 'ours'):
        nets[key].hybridize(static_alloc=True, static_shape=True)
    nets['deploy'] = deploy(ours, ctx=ctx, fuse=ctx.device_type == 'cpu')
    if 'onnx' in keys:
        with tempfile.TemporaryDirectory() as tmp:
            nets['onnx'] = OnnxModel(export_onnx(nets['deploy'], os.path.join(tmp, 'model.onnx')))
    inputs = {key: images.asnumpy() if key == 'onnx' else images for key in keys}
    expected = nets['authors'](images).asnumpy()
    row = {'params': params, 'flops': flops, 'fusion': nets['deploy'].fusion,
           'batch_size': images.shape[0], 'repeats': repeats}
    for key in keys:
        out = nets[key](inputs[key])
        out = out.asnumpy() if isinstance(out, mx.nd.NDArray) else out
        row['%s_max_diff' % key] = float(np.abs(out - expected).max())
    times = time_rounds({key: inference_fn(nets[key], inputs[key]) for key in keys},
                        repeats=repeats, warmup=warmup)
    for key in keys:
        q1, median, q3 = np.percentile(times[key], [25, 50, 75]) * 1000
        row.update({'%s_ms' % key: median, '%s_q1_ms' % key: q1, '%s_q3_ms' % key: q3})
    row['ours_vs_authors'] = ratio_quartiles(times['ours'], times['authors'])
    for key in keys[2:]:
        row['%s_speedup' % key] = ratio_quartiles(times['authors'], times[key])
    return row


def build_rows(paper_table5, measured, machine):
    """Table 5 rows: the paper's row and our measurement of each measured network.

    Parameters
    ----------
    paper_table5 : list of dict
        The paper's Table 5 (``load_paper_tables()['table5']``).
    measured : dict of str to dict
        Zoo name -> :func:`measure_model`'s row.
    machine : str
        :func:`~gluon_pydmn.machine.machine_line` of the machine that measured them (a
        column of the CSV).
    """
    rows = []
    for paper in paper_table5:
        name = model_of_row(paper['model'])
        if name not in measured:
            continue
        m = dict(measured[name])
        row = {'model': paper['model'], 'zoo_name': name, 'params': m.pop('params'),
               'params_m': 0.0, 'paper_params_m': paper['params_millions'],
               'flops_m': m.pop('flops') / 1e6, 'paper_flops_m': paper['flops_millions'],
               'paper_gpu_ms': paper['gpu_ms'], 'paper_cpu_ms': paper['cpu_ms'],
               'machine': machine}
        row['params_m'] = row['params'] / 1e6
        for key, value in m.items():
            if isinstance(value, tuple):  # per-round ratio quartiles
                row[key], row[key + '_q1'], row[key + '_q3'] = value
            else:
                row[key] = value
        rows.append(row)
    return rows


# (key, markdown header) of the per-round ratios, with their quartiles under <key>_q1, <key>_q3
_RATIOS = (('ours_vs_authors', 'ours / authors'), ('deploy_speedup', 'deploy speed-up'),
           ('onnx_speedup', 'ONNX speed-up'))
_KEYS = (['model', 'zoo_name', 'params', 'params_m', 'paper_params_m', 'flops_m',
          'paper_flops_m', 'paper_gpu_ms', 'paper_cpu_ms']
         + ['%s_%s' % (key, s) for key, _ in CONTENDERS for s in ('ms', 'q1_ms', 'q3_ms')]
         + ['%s%s' % (ratio, s) for ratio, _ in _RATIOS for s in ('', '_q1', '_q3')]
         + ['%s_max_diff' % key for key, _ in CONTENDERS]
         + ['fusion', 'batch_size', 'repeats', 'machine'])
_TEXT = ('model', 'zoo_name', 'fusion', 'machine')
_INTS = ('params', 'batch_size', 'repeats')
COLUMNS = [tables.Column(key, kind=str if key in _TEXT else int if key in _INTS else float)
           for key in _KEYS]
"""Columns of the Table 5 CSV (:mod:`gluon_pydmn.tables`; times in ms, ``onnx_*`` empty on a
GPU context)."""

_WRITER = '`gluon-pydmn table5 --ctx cpu`'


def to_csv(rows):
    """CSV text of Table 5 rows (:data:`COLUMNS`, full precision, empty cells where n/a)."""
    return tables.to_csv(rows, COLUMNS)


def read_csv(path):
    """Rows written by :func:`to_csv`: numbers as ``int``/``float``, empty cells as ``None``.

    Raises ``FileNotFoundError`` (naming ``gluon-pydmn table5``) or ``ValueError`` (a column missing).
    """
    return tables.read_csv(path, COLUMNS, _WRITER)


def _markdown_columns(keys):
    """The Markdown table's columns when the contenders ``keys`` were timed; a time or a ratio
    is the tuple (median, q1, q3) under the key ``<key>_spread`` or ``<ratio>_range``."""
    column = tables.Column
    return ([column('model', 'Model', kind=str), column('params_m', '#params (M)', '%.3f'),
             column('paper_params_m', 'paper', '%.3f'), column('flops_m', 'FLOPs (M)', '%.1f'),
             column('paper_flops_m', 'paper', '%.0f'),
             column('paper_gpu_ms', 'paper GPU (ms)', '%.0f'),
             column('paper_cpu_ms', 'paper CPU (ms)', '%.0f')]
            + [column(key + '_spread', '%s (ms)' % label, '%.1f (%.1f-%.1f)')
               for key, label in CONTENDERS if key in keys]
            + [column(ratio + '_range', label, '%.2fx (%.2f-%.2f)') for ratio, label in _RATIOS
               if ratio != 'onnx_speedup' or 'onnx' in keys]
            + [column('max_diff', 'max logit diff', '%.1e'), column('fusion', kind=str)])


def to_markdown(rows):
    """Markdown table in Table 5's layout: model, #params, FLOPs (ours and the paper's), the
    paper's GPU and CPU times, then ours: each contender's median (quartiles) in ms, ours over
    the authors' graph, the deploy form's speed-up, the largest logit difference."""
    onnx = all(r.get('onnx_ms') is not None for r in rows)
    keys = [key for key, _ in CONTENDERS if key != 'onnx' or onnx]
    shown = []
    for r in rows:
        row = dict(r, max_diff=max(r['%s_max_diff' % key] for key in keys))
        for key in keys:
            row[key + '_spread'] = (r[key + '_ms'], r[key + '_q1_ms'], r[key + '_q3_ms'])
        for ratio, _ in _RATIOS:
            if r.get(ratio) is not None:
                row[ratio + '_range'] = (r[ratio], r[ratio + '_q1'], r[ratio + '_q3'])
        shown.append(row)
    return '\n'.join(tables.to_markdown(shown, _markdown_columns(keys))) + '\n'


# --- the paper's ranking claims, checked on any set of times ---------------------------------

def _family(rows, family):
    return [r for r in rows if MODEL_CFGS[r['zoo_name']].family == family]


def _interpolated(rows, family, size, time, x):
    """``family``'s time interpolated linearly in ``size`` at ``x``; None outside its range."""
    points = sorted((r[size], r[time]) for r in _family(rows, family))
    if len(points) < 2 or not points[0][0] <= x <= points[-1][0]:
        return None
    xs, ts = zip(*points)
    return float(np.interp(x, xs, ts))


def _short(row):
    cfg = MODEL_CFGS[row['zoo_name']]
    return '%s-%s' % (cfg.family.split('_')[-1].capitalize() if 'pyd' in cfg.family else
                      {'resnet': 'ResNet', 'mobilenet': 'MobileNet'}[cfg.family], cfg.alpha)


def _compare(rows, family, other, size, time):
    """Each ``family`` row against ``other``'s time interpolated at its ``size``:
    ``[(row, its time, other's time), ...]`` for rows inside ``other``'s range."""
    pairs = []
    for r in _family(rows, family):
        t = _interpolated(rows, other, size, time, r[size])
        if t is not None:
            pairs.append((r, r[time], t))
    return pairs


def ranking_claims(rows, time, params='params_m', flops='flops_m'):
    """The paper's three ranking claims of Section 4.3.3 checked on the times in column
    ``time`` (e.g. ``'ours_ms'``, ``'paper_cpu_ms'``).

    Returns
    -------
    dict
        ``'mobilenet_vs_resnet'``: ``[(row, time, resnet time), ...]`` for the MobileNet-56s
        with fewer FLOPs than ResNet-56-0.5; ``'concat_vs_add'``: each Concat against the Add
        time interpolated at its FLOPs (within the Adds' range); ``'concat_vs_mobilenet'``:
        each Concat against the MobileNet time interpolated at its #params. A list is empty
        when the rows lack the networks it needs.
    """
    resnet = _family(rows, 'resnet')
    return {
        'mobilenet_vs_resnet': [(r, r[time], resnet[0][time]) for r in _family(rows, 'mobilenet')
                                if resnet and r[flops] < resnet[0][flops]],
        'concat_vs_add': _compare(rows, 'pydmobilenet_concat', 'pydmobilenet_add', flops, time),
        'concat_vs_mobilenet': _compare(rows, 'pydmobilenet_concat', 'mobilenet', params, time)}


ABOUT_AS_FAST = 0.15
"""Relative difference within which two times count as "about as fast" (claim 3)."""


def _verdict(held, total):
    return ('holds' if held == total else 'does not hold' if held == 0 else
            'holds in part (%d of %d)' % (held, total))


def claim_sentences(rows, ours='ours_ms', deploy_form='deploy_ms'):
    """Three sentences checking the paper's ranking claims against our times (column
    ``ours``, with the deploy form's beside), and against the paper's own CPU and GPU times
    for comparison; a claim that needs networks missing from ``rows`` says so."""
    sources = [('ours', ours, 'params_m', 'flops_m'),
               ('deploy', deploy_form, 'params_m', 'flops_m'),
               ('paper CPU', 'paper_cpu_ms', 'paper_params_m', 'paper_flops_m'),
               ('paper GPU', 'paper_gpu_ms', 'paper_params_m', 'paper_flops_m')]
    checked = {label: ranking_claims(rows, *rest) for label, *rest in sources}
    tests = {'mobilenet_vs_resnet': lambda t, ref: t > ref,
             'concat_vs_add': lambda t, ref: t < ref,
             'concat_vs_mobilenet': lambda t, ref: abs(t / ref - 1) <= ABOUT_AS_FAST}
    intro = {
        'mobilenet_vs_resnet': (
            '"MobileNets are slower than ResNet although their FLOPs are smaller." Counted: '
            'MobileNet-56s with fewer FLOPs than ResNet-56-0.5 that are slower than it'),
        'concat_vs_add': (
            '"Concatenation looks more efficient than addition." Counted: Concats faster than '
            'the Adds at equal FLOPs (Add time interpolated linearly in FLOPs at each '
            'Concat\'s, within the Adds\' range)'),
        'concat_vs_mobilenet': (
            '"PydMobileNet-Concat about as fast as MobileNets of similar #params." Counted: '
            'Concats within %d%% of the MobileNet time interpolated linearly in #params at '
            'theirs' % round(100 * ABOUT_AS_FAST))}
    reference = {'mobilenet_vs_resnet': 'ResNet', 'concat_vs_add': 'Add',
                 'concat_vs_mobilenet': 'MobileNet'}
    sentences = []
    for claim, test in tests.items():
        ours_pairs = checked['ours'][claim]
        if not ours_pairs:
            sentences.append('%s — not checked: this run lacks the networks it needs.'
                             % intro[claim])
            continue
        counts = {label: (sum(test(t, ref) for _, t, ref in pairs), len(pairs))
                  for label, pairs in ((label, c[claim]) for label, c in checked.items())}
        detail = ', '.join('%s %.0f ms vs %s %.0f ms' % (_short(r), t, reference[claim], ref)
                           for r, t, ref in ours_pairs)
        sentences.append(
            '%s — %d of %d with this package\'s network (%s), %d of %d in deploy form; in the '
            'paper %d of %d on its CPU and %d of %d on its GPU. Here the claim %s.' % (
                intro[claim], *counts['ours'], detail, *counts['deploy'], *counts['paper CPU'],
                *counts['paper GPU'], _verdict(*counts['ours'])))
    return sentences


def to_document(rows, info, command):
    """The Markdown file of a Table 5 run: what ran where, the table, the claims checked.

    Parameters
    ----------
    rows : list of dict
        :func:`build_rows`.
    info : dict
        :func:`~gluon_pydmn.machine.machine_info` of the run, with ``warmup`` (the
        untimed rounds) and ``load`` (the one-minute load average before and after).
    command : str
        The command that ran.
    """
    device = 'gpu' if info['ctx'].startswith('gpu') else 'cpu'
    batch = rows[0]['batch_size']
    lines = [
        '# Table 5 on %s: inference time, batch %d' % ('the CPU' if device == 'cpu' else 'a GPU',
                                                       batch), '',
        'Generated by `%s` on %s; do not edit by hand.' % (
            command, datetime.date.today().isoformat()), '',
        '**Machine:** %s. One-minute load average %.1f before the run, %.1f after it (other '
        'processes share the machine; the quartiles show how much the times moved).' % (
            machine_line(info), *info['load']), '',
        'The paper measured on an Intel Core i7-4770 CPU and an NVIDIA GTX 750 Ti with MXNet '
        '(its columns here); our times come from the machine above only and compare with '
        'each other, not with the paper\'s. Each time is the median of %d forward passes of '
        'one batch of %d CIFAR-10 test images (hybridized with static_alloc and static_shape, '
        'after %s untimed warm-up rounds, each pass ending with wait_to_read), with the first and third '
        'quartiles in brackets; the contenders of a network ran interleaved, round by round. '
        'A ratio is the median of the per-round ratios (quartiles in brackets). "authors\' '
        'graph" is their released symbol file, "ours" this package\'s network with the same '
        'weights (the network the paper timed; the two should time alike), "deploy form" '
        '`gluon_pydmn.deploy`%s. "max logit diff" is the largest difference of any contender\'s '
        'logits from the authors\' graph on the batch.' % (
            rows[0]['repeats'], batch, info.get('warmup', '?'),
            ' and "ONNX Runtime" its ONNX export on the CPU' if device == 'cpu' else ''), '']
    if batch != 128:
        lines += ['The paper\'s times are for batch 128; this run used batch %d.' % batch, '']
    lines += [to_markdown(rows), '## The paper\'s ranking claims, checked here', '']
    lines += ['%d. %s' % (i + 1, s) for i, s in enumerate(claim_sentences(rows))]
    return '\n'.join(lines) + '\n'


def measure(names, images, ctx=None, *, root=None, repeats=21, warmup=3, progress=True):
    """:func:`measure_model` for each zoo name: ``{name: row}``."""
    return {name: measure_model(name, images, ctx, root=root, repeats=repeats, warmup=warmup)
            for name in tqdm(names, desc='Table 5', disable=not progress)}
