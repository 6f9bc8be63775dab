"""Reproduce the paper's Table 3 with this package's models and the converted weights.

For every row of the paper's Table 3: our #params and FLOPs (counted by
walking the model), our CIFAR-10 error, our CIFAR-100 error on the 20 coarse
labels (the authors' protocol, which the paper's column reports) and, for the
record, the same weights' error on the 100 fine labels. The GluonCV rows get
params/FLOPs from GluonCV's own models and errors where GluonCV's pretrained
weights can be fetched.

Every (model, dataset) result is written to a work folder as soon as it is
measured, keyed on everything it depends on (the package's code, the test set's
pixels and labels, the loaded weights, the batch size), so an interrupted run
resumes where it stopped and anything changed is measured again.
"""
import functools
import hashlib
import json
import os
import warnings

import mxnet as mx
import numpy as np
from tqdm import tqdm

from .. import tables
from ..catalog import LABEL_SETS, MODEL_CFGS
from ..counting import count_flops, count_params
from ..data import CIFAR10, CIFAR100
from ..evaluate import error_rate, predict
from ..model_zoo import CoarseLabelWarning, get_model
from ..pretrained import RELEASED_LABEL_SETS
from ..utils import atomic_path, context_list
from .paper import GLUONCV_ROWS, model_of_row

__all__ = ['COLUMNS', 'MARKDOWN_COLUMNS', 'measure', 'code_digest', 'build_rows', 'to_csv',
           'read_csv', 'to_markdown']


def _not_available(row):
    """A missing error: 'n/a', with the row's note (why it is missing) if it has one."""
    return 'n/a' + (' (%s)' % row['note'] if row.get('note') else '')


_column = functools.partial(tables.Column, missing='n/a')


def _against_paper(key, header, fmt, paper_key, paper_header='paper', paper_fmt=None, **kwargs):
    """The columns of one measure: ours, the paper's and Δ = ours - paper (``delta_<paper key
    without 'paper_'>``, in ``fmt`` with a sign)."""
    return [_column(key, header, fmt, **kwargs),
            _column(paper_key, paper_header, paper_fmt or fmt),
            _column('delta_' + paper_key[len('paper_'):], 'Δ', '%+' + fmt[1:])]


COLUMNS = ([_column('model', 'Model', kind=str),
            _column('zoo_name', 'gluon_pydmn / GluonCV name', kind=str),
            _column('params', 'Params', '%d', kind=int)]
           + _against_paper('params_m', 'Params (M)', '%.3f', 'paper_params_m')
           + _against_paper('flops_m', 'FLOPs (M)', '%.2f', 'paper_flops_m', paper_fmt='%.0f')
           + _against_paper('cifar10_error', 'C10 err (%)', '%.2f', 'paper_cifar10_error',
                            missing=_not_available)
           + _against_paper('cifar100_coarse_error', 'C100 err, 20 coarse labels (%)', '%.2f',
                            'paper_cifar100_error', 'paper "CIFAR-100"')
           + [_column('cifar100_fine_error', 'same weights, 100 fine labels (%)', '%.2f'),
              _column('cifar100_preds_in_0_19', 'C100 predictions in classes 0-19 (%)', '%.2f'),
              tables.Column('note', kind=str)])
"""Columns of the Table 3 CSV (:mod:`gluon_pydmn.tables`); ``note`` says why a missing value
is missing. The Markdown table leaves out ``params`` and ``note``."""

MARKDOWN_COLUMNS = [c for c in COLUMNS if c.key not in ('params', 'note')]
_WRITER = '`gluon-pydmn table3`'


def _gluoncv_net(name, pretrained):
    from gluoncv.model_zoo import get_model as gcv_get_model
    net = gcv_get_model(name, classes=10, pretrained=pretrained)
    if not pretrained:
        net.initialize(mx.init.Xavier())
    return net


def _load_zoo(name, labels, weights_root, ctx):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', CoarseLabelWarning)  # the table states the protocol
        return get_model(name, classes=labels.head_width, pretrained=True, root=weights_root,
                         ctx=ctx)


def _measure_zoo(net, name, labels, test_sets, batch_size, ctx, *, progress=True):
    """Errors of the authors' weights for label set ``labels`` (a released one)."""
    net.hybridize(static_alloc=True, static_shape=True)
    if labels.name == 'cifar10':
        test = test_sets['cifar10']
        logits = predict(net, test.images, batch_size, ctx, progress=progress, desc=name)
        return {'cifar10_error': error_rate(logits, test.labels)}
    coarse, fine = test_sets['cifar100-coarse'], test_sets['cifar100-fine']
    logits = predict(net, coarse.images, batch_size, ctx, progress=progress, desc=name + ' C100')
    # The two readers give the same images in the same order; only the label column differs.
    return {'cifar100_coarse_error': error_rate(logits, coarse.labels),
            'cifar100_fine_error': error_rate(logits, fine.labels),
            'cifar100_preds_in_0_19': 100.0 * float(np.mean(logits.argmax(axis=1) < 20))}


def _measure_gluoncv(name, test_sets, batch_size, ctx, *, progress=True):
    try:
        net = _gluoncv_net(name, pretrained=True)
    except Exception as e:  # no internet, no cached file: say so in the table
        return {'cifar10_error': None,
                'note': 'GluonCV weights could not be fetched (%s)' % type(e).__name__}
    net.hybridize(static_alloc=True, static_shape=True)
    test = test_sets['cifar10']
    logits = predict(net, test.images, batch_size, ctx, progress=progress, desc=name)
    return {'cifar10_error': error_rate(logits, test.labels)}


def code_digest():
    """SHA-1 of this package's source (Python, C++ and data files)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha1()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(f for f in files if f.endswith(('.py', '.cc', '.json'))):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def _arrays_digest(*arrays):
    digest = hashlib.sha1()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def _params_digest(net):
    digest = hashlib.sha1()
    for name, param in sorted(net._collect_params_with_prefix().items()):
        digest.update(name.encode())
        digest.update(param.data().asnumpy().tobytes())
    return digest.hexdigest()


def measure(data_root=None, weights_root=None, work_dir=None, *, batch_size=128, ctx=None,
            names=None, stats=None, progress=True):
    """Measure everything Table 3 needs; resumable through ``work_dir``.

    A result saved in ``work_dir`` is reused only if it was measured from the same inputs:
    the package's code, the test set, the loaded weights, the batch size and the device
    type. Anything else is measured again.

    Parameters
    ----------
    stats : dict, optional
        Filled with ``recomputed`` and ``reused``: how many (model, dataset) results were
        measured now and how many came from ``work_dir``.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        ``{zoo or GluonCV name: {field: value}}``.
    """
    ctx = context_list(ctx)[0]  # a GPU this MXNet cannot use: the package's one error
    test_sets = {'cifar10': CIFAR10(data_root, train=False),
                 'cifar100-coarse': CIFAR100(data_root, train=False, label_mode='coarse'),
                 'cifar100-fine': CIFAR100(data_root, train=False, label_mode='fine')}
    code = code_digest()
    data = {'cifar10': _arrays_digest(test_sets['cifar10'].images, test_sets['cifar10'].labels),
            'cifar100': _arrays_digest(test_sets['cifar100-coarse'].images,
                                       test_sets['cifar100-coarse'].labels,
                                       test_sets['cifar100-fine'].labels)}
    names = names or list(MODEL_CFGS)
    jobs = [(n, LABEL_SETS[ls]) for n in names for ls in RELEASED_LABEL_SETS]
    jobs += [(n, LABEL_SETS['cifar10']) for n in GLUONCV_ROWS.values()]
    results = {}
    counts = {'recomputed': 0, 'reused': 0}
    bar = tqdm(jobs, desc='Table 3', unit='eval', disable=not progress)
    for name, labels in bar:
        bar.set_postfix_str('%s %s' % (name, labels.name))
        net = _load_zoo(name, labels, weights_root, ctx) if name in MODEL_CFGS else None
        key = hashlib.sha1(json.dumps([code, data[labels.dataset], batch_size, ctx.device_type,
                                       name, labels.name,
                                       net and _params_digest(net)]).encode()).hexdigest()
        done = os.path.join(work_dir, '%s-%s.json' % (name, labels.dataset)) if work_dir else None
        saved = None
        if done and os.path.isfile(done):
            with open(done) as f:
                saved = json.load(f)
        if isinstance(saved, dict) and saved.get('key') == key:
            res = saved['result']
            counts['reused'] += 1
        else:
            res = (_measure_zoo(net, name, labels, test_sets, batch_size, ctx, progress=progress)
                   if net is not None
                   else _measure_gluoncv(name, test_sets, batch_size, ctx, progress=progress))
            counts['recomputed'] += 1
            if done:
                with atomic_path(done) as tmp, open(tmp, 'w') as f:
                    json.dump({'key': key, 'result': res}, f)
        results.setdefault(name, {}).update(res)
    for name in names:
        net = get_model(name, classes=10)
        results[name].update(params=count_params(net), flops=count_flops(net))
    for name in GLUONCV_ROWS.values():
        net = _gluoncv_net(name, pretrained=False)
        results[name].update(params=count_params(net), flops=count_flops(net))
    if stats is not None:
        stats.update(counts)
    return results


def _delta(ours, paper):
    return None if ours is None or paper is None else round(ours - paper, 6)


def build_rows(paper_table3, results):
    """Join the paper's Table 3 rows with measured ``results`` (see :func:`measure`)."""
    rows = []
    for paper in paper_table3:
        name = model_of_row(paper['model'])
        if name not in results:
            continue
        res = results[name]
        row = {'model': paper['model'] + (' (GluonCV)' if paper['model'] in GLUONCV_ROWS else ''),
               'zoo_name': name, 'params': res['params'], 'params_m': res['params'] / 1e6,
               'flops_m': res['flops'] / 1e6, 'note': res.get('note')}
        for key in ('cifar10_error', 'cifar100_coarse_error', 'cifar100_fine_error',
                    'cifar100_preds_in_0_19'):
            row[key] = res.get(key)
        row['paper_params_m'] = paper['params_millions']
        row['paper_flops_m'] = paper['flops_millions']
        row['paper_cifar10_error'] = paper['cifar10_error']
        row['paper_cifar100_error'] = paper['cifar100_error']
        row['delta_params_m'] = _delta(row['params_m'], paper['params_millions'])
        row['delta_flops_m'] = _delta(row['flops_m'], paper['flops_millions'])
        row['delta_cifar10_error'] = _delta(row['cifar10_error'], paper['cifar10_error'])
        row['delta_cifar100_error'] = _delta(row['cifar100_coarse_error'], paper['cifar100_error'])
        rows.append(row)
    return rows


def to_csv(rows):
    """CSV text of the rows (all :data:`COLUMNS`, full precision, empty cells where n/a)."""
    return tables.to_csv(rows, COLUMNS)


def read_csv(path):
    """Rows written by :func:`to_csv`: numbers as ``int``/``float``, empty cells as ``None``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (``gluon-pydmn table3`` writes ``results/table3.csv``).
    ValueError
        The file lacks one of :data:`COLUMNS`.
    """
    return tables.read_csv(path, COLUMNS, _WRITER)


def to_markdown(rows):
    """Markdown table of the rows; a missing value is 'n/a' (the row's note, if any, beside
    the missing CIFAR-10 error)."""
    return '\n'.join(tables.to_markdown(rows, MARKDOWN_COLUMNS)) + '\n'
