"""Table 3 by training: one :func:`gluon_pydmn.train.train` run per (network, label set), as
Ray tasks on this machine or on any Ray cluster, collected into one table.

Each run trains into its own folder ``<out>/<model>-<label set>``, so a killed worker, a lost
node or a re-run of the same sweep resumes every run after its last finished epoch, and runs
that are already finished are skipped without starting a task. Ray retries a task whose
worker died (``max_retries``); a run that fails by raising (missing data, divergence, a
checkpoint of another run in its folder) is not retried and is reported with its reason in
``<run>/failure.json`` and in the table, while the other runs go on.

:func:`collect` builds the table (:func:`write_table`: ``table3-trained.md`` and ``.csv``)
from the run folders alone, so it can be written at any time, also without Ray.

Ray is imported only by :func:`run_sweep` and inside the tasks: ``pip install
gluon_pydmn[sweep]``.
"""
import csv
import datetime
import io
import json
import os
import socket

import mxnet as mx

from ..catalog import MODEL_CFGS, label_set as _label_set
from ..cpu import configure_cpu
from ..data import get_dataset
from ..model_zoo import get_model, gluoncv_cifar_names
from ..run_folder import FINAL_FILE, RUN_FILE, STATE_FILE, is_finished, read_run, run_result
from ..train import train
from ..utils import write_text
from .paper import load_paper_tables, paper_error, paper_name
from .table3 import read_csv

__all__ = ['TABLE3_LABEL_SETS', 'COLUMNS', 'head_width', 'run_folder', 'check_model_names',
           'build_network', 'train_run', 'run_sweep', 'collect', 'to_csv', 'to_markdown',
           'write_table']

# The paper's protocol: CIFAR-10, and CIFAR-100 trained and scored on its 20 coarse labels.
TABLE3_LABEL_SETS = ('cifar10', 'cifar100-coarse')
CIFAR_TRAIN_IMAGES = 50000
FAILURE_FILE = 'failure.json'
TASK_FILE = 'sweep.json'
TABLE_NAME = 'table3-trained'

# (csv column, markdown header)
COLUMNS = [
    ('model', 'Model'),
    ('zoo_name', 'name'),
    ('label_set', 'label set'),
    ('status', 'status'),
    ('epochs_done', 'epochs done'),
    ('epochs', 'of'),
    ('train_images', 'train images'),
    ('test_images', 'test images'),
    ('last_error', 'last-epoch err (%)'),
    ('best_error', 'best-epoch err (%)'),
    ('best_epoch', 'best epoch'),
    ('paper_error', 'paper err (%) (C10 / "CIFAR-100" = 20 coarse labels)'),
    ('released_error', 'released weights err (%)'),
]


def head_width(label_set):
    """Outputs of the network trained on ``label_set`` (:data:`gluon_pydmn.catalog.LABEL_SETS`):
    10 for CIFAR-10 and 100 for both CIFAR-100 label sets (the authors' coarse-label networks
    have 100 outputs and learn to use the first 20)."""
    return _label_set(label_set).head_width


def run_folder(out, model, label_set):
    """The run folder of ``model`` on ``label_set`` in a sweep writing into ``out``."""
    return os.path.join(out, '%s-%s' % (model, label_set))


def check_model_names(names):
    """Raise ValueError naming the valid names unless every name is a zoo network or a
    GluonCV CIFAR network (``cifar_resnet20_v1``...)."""
    valid = set(MODEL_CFGS) | set(gluoncv_cifar_names())
    unknown = sorted(set(names) - valid)
    if unknown:
        raise ValueError('unknown network(s) %s; use zoo names (%s) or GluonCV CIFAR names (%s)'
                         % (', '.join(unknown), ', '.join(MODEL_CFGS),
                            ', '.join(gluoncv_cifar_names())))


def build_network(name, classes, ctx):
    """A freshly initialised network to train, as ``experiments/train.py`` builds it: the zoo's
    with the C++ pyramid operator on CPU, or a GluonCV CIFAR network (both Xavier). Seed
    ``mx.random`` first for a reproducible initialisation."""
    return get_model(name, classes=classes, ctx=ctx, fast=ctx[0].device_type == 'cpu')


def _omp_threads():
    """The OpenMP runtime's thread count in this process (MXNet uses libgomp), or None."""
    import ctypes
    try:
        return int(ctypes.CDLL('libgomp.so.1').omp_get_max_threads())
    except (OSError, AttributeError):
        return None


def train_run(model, label_set, out_dir, config, data_root=None, limit_train=None,
              limit_test=None, gpus=0, report=None):
    """Train one run of a sweep into ``out_dir`` (what each Ray task does; callable directly).

    Parameters
    ----------
    model : str
        Zoo or GluonCV CIFAR name.
    label_set : str
        ``'cifar10'``, ``'cifar100-coarse'`` or ``'cifar100-fine'``.
    out_dir : str
        The run folder: resumed if it holds a checkpoint of this run, nothing is done if the
        run is finished.
    config : TrainConfig
    data_root : str, optional
        CIFAR folder on the machine running this (default ``$GLUON_PYDMN_DATA``).
    limit_train, limit_test : int, optional
        Use the first N training / test images only.
    gpus : int
        Train on GPUs ``0..gpus-1`` of those visible to this process; 0 for the CPU.
    report : callable, optional
        ``report(kind, **fields)`` with kind ``'start'`` (``pid``, ``host``), ``'log'``
        (``message``) and ``'epoch'`` (``row``, ``epochs``) as the run goes.

    Returns
    -------
    list of dict
        The run's history (:func:`gluon_pydmn.train.train`).
    """
    report = report or (lambda kind, **fields: None)
    report('start', pid=os.getpid(), host=socket.gethostname())
    if gpus:
        ctx = [mx.gpu(i) for i in range(int(gpus))]
    else:
        configure_cpu()  # before MXNet's first operator (threads come from the environment)
        ctx = [mx.cpu()]
    mx.random.seed(config.seed)  # the Xavier initialisation, as experiments/train.py
    net = build_network(model, head_width(label_set), ctx)
    train_set = get_dataset(label_set, train=True, root=data_root)
    test_set = get_dataset(label_set, train=False, root=data_root)
    if limit_train:
        train_set = train_set.subset(limit_train)
    if limit_test:
        test_set = test_set.subset(limit_test)
    os.makedirs(out_dir, exist_ok=True)
    info = {'model': model, 'label_set': label_set, 'test_images': len(test_set),
            'host': socket.gethostname(), 'pid': os.getpid(), 'context': str(ctx),
            'omp_num_threads': os.environ.get('OMP_NUM_THREADS'), 'omp_threads': _omp_threads()}
    _write_json(os.path.join(out_dir, TASK_FILE), info)

    def on_epoch_end(history):
        report('epoch', row=history[-1], epochs=config.epochs)

    def log(message):
        # the epoch lines are reported by on_epoch_end; the others (resuming, finished) here
        if not message.startswith('epoch '):
            report('log', message=message)
    return train(net, train_set, test_set, out_dir, config, ctx=ctx, progress=False, log=log,
                 model_name=model, on_epoch_end=on_epoch_end)


def _task(model, label_set, out_dir, config, data_root, limit_train, limit_test, queue):
    """The Ray task: :func:`train_run` on the GPUs Ray gave it, reporting through ``queue``."""
    import warnings

    import ray
    warnings.filterwarnings('ignore', 'Cannot decide type')  # MXNet's, on every hybridize

    def report(kind, **fields):
        queue.put(dict(fields, kind=kind, model=model, label_set=label_set, pid=os.getpid()))
    # Ray sets CUDA_VISIBLE_DEVICES to the task's GPUs, which MXNet then numbers from 0
    return train_run(model, label_set, out_dir, config, data_root, limit_train, limit_test,
                     gpus=len(ray.get_gpu_ids()), report=report)


def _write_json(path, value):
    write_text(path, json.dumps(value, indent=1))


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _reason(error):
    """One line: the exception a run raised, or the system failure that ended its task."""
    import ray
    if isinstance(error, ray.exceptions.RayTaskError):
        if error.cause is not None:
            return '%s: %s' % (type(error.cause).__name__, ' '.join(str(error.cause).split()))
        lines = [line for line in str(error).splitlines() if line.strip()]
        return lines[-1].strip() if lines else type(error).__name__  # the traceback's last line
    first = (str(error).strip().splitlines() or [''])[0]
    return '%s (after all retries): %s' % (type(error).__name__, first)


def run_sweep(models, label_sets, out, config, data_root=None, limit_train=None,
              limit_test=None, cpus_per_run=1, gpus_per_run=None, max_retries=3, address=None,
              on_event=None, log=print, command=None, released_csv=None):
    """Train every (model, label set) run as a Ray task and write the table into ``out``.

    Parameters
    ----------
    models, label_sets : list of str
    out : str
        Folder of the run folders and of ``table3-trained.md``/``.csv``; on a cluster it must
        be on a filesystem all nodes share.
    config : TrainConfig
    data_root : str, optional
        CIFAR folder, as seen by each worker (default ``$GLUON_PYDMN_DATA`` there).
    limit_train, limit_test : int, optional
    cpus_per_run : int
        CPUs Ray reserves for a run; also its OpenMP threads.
    gpus_per_run : float, optional
        GPUs Ray reserves for a run (each batch is split across several); default 1 if the
        cluster has GPUs, else 0.
    max_retries : int
        Retries of a task whose worker or node died; a run that raises is not retried.
    address : str, optional
        Ray cluster to join (``'auto'``, ``'ray://host:10001'``...); default ``$RAY_ADDRESS``,
        else a Ray started on this machine. If Ray is already initialised it is used.
    on_event : callable, optional
        Called in the driver with each event the runs report (dicts with ``kind``
        ``'start'``/``'log'``/``'epoch'``, ``model``, ``label_set`` and ``pid``).
    log : callable
        Receives the progress lines: one per finished epoch across the sweep, and a summary.
    command : str, optional
        Recorded in ``table3-trained.md``.
    released_csv : str, optional
        ``results/table3.csv``, for the released weights' errors (:func:`collect`).

    Returns
    -------
    list of dict
        The table's rows (:func:`collect`).
    """
    import ray
    from ray.util.queue import Queue
    check_model_names(models)
    runs = [(m, s) for m in models for s in label_sets]
    started_ray = not ray.is_initialized()
    if started_ray:
        local = address is None and not os.environ.get('RAY_ADDRESS')
        ray.init(address=address, **(dict(include_dashboard=False) if local else {}))
    try:
        if gpus_per_run is None:
            gpus_per_run = 1 if ray.cluster_resources().get('GPU', 0) > 0 else 0
        threads = str(max(1, int(cpus_per_run)))
        task = ray.remote(max_calls=1)(_task)  # a fresh worker (and MXNet) for each run
        options = dict(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries,
                       retry_exceptions=False,
                       runtime_env={'env_vars': {  # read when the worker imports MXNet
                           'OMP_NUM_THREADS': threads, 'MXNET_OMP_MAX_THREADS': threads,
                           'OPENBLAS_NUM_THREADS': threads}})
        queue = Queue(actor_options={'num_cpus': 0})
        epochs = {}
        pending, states = {}, {}
        for model, label_set in runs:
            folder = run_folder(out, model, label_set)
            epochs[(model, label_set)] = _epochs_done(folder)
            if is_finished(folder, config, limit_train or CIFAR_TRAIN_IMAGES):
                states[(model, label_set)] = 'finished'
                continue
            if os.path.exists(os.path.join(folder, FAILURE_FILE)):
                os.remove(os.path.join(folder, FAILURE_FILE))
            ref = task.options(name='%s-%s' % (model, label_set), **options).remote(
                model, label_set, os.path.abspath(folder), config, data_root, limit_train,
                limit_test, queue)
            pending[ref] = (model, label_set)
            states[(model, label_set)] = 'queued'
        skipped = sum(s == 'finished' for s in states.values())
        log('sweep of %d runs into %s (%s): %d finished already, %d to train with %s CPU(s) '
            'and %s GPU(s) each' % (len(runs), out, config.describe(), skipped, len(pending),
                                    cpus_per_run, gpus_per_run))

        def progress():
            counts = {k: sum(s == k for s in states.values())
                      for k in ('finished', 'running', 'failed', 'queued')}
            return '[%d/%d epochs; runs: %s]' % (
                sum(epochs.values()), config.epochs * len(runs),
                ', '.join('%d %s' % (n, k) for k, n in counts.items()))

        def handle(event):
            key = (event['model'], event['label_set'])
            name = '%s %s' % key
            if event['kind'] == 'start':
                states[key] = 'running'
            elif event['kind'] == 'log':
                log('%s: %s' % (name, event['message']))
            elif event['kind'] == 'epoch':
                row = event['row']
                epochs[key] = row['epoch']
                log('%s %s: epoch %d/%d  lr %g  loss %.4f  test error %.2f%%  (%.0f s)'
                    % (progress(), name, row['epoch'], event['epochs'], row['lr'],
                       row['train_loss'], row['test_error'], row['seconds']))
            if on_event is not None:
                on_event(event)

        def drain():
            while not queue.empty():
                handle(queue.get_nowait())

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            drain()
            for ref in ready:
                key = pending.pop(ref)
                try:
                    ray.get(ref)
                    states[key] = 'finished'
                    log('%s %s %s: finished' % ((progress(),) + key))
                except ray.exceptions.RayError as e:
                    states[key] = 'failed'
                    reason = _reason(e)
                    _write_json(os.path.join(run_folder(out, *key), FAILURE_FILE),
                                {'reason': reason, 'at': datetime.datetime.now().isoformat()})
                    log('%s %s %s: failed: %s' % ((progress(),) + key + (reason,)))
                rows = collect(models, label_sets, out, config, states, released_csv=released_csv)
                write_table(out, rows, command)
        drain()
        queue.shutdown()
    finally:
        if started_ray:
            ray.shutdown()
    rows = collect(models, label_sets, out, config, released_csv=released_csv)
    paths = write_table(out, rows, command)
    counts = {}
    for row in rows:
        status = row['status'].split(':')[0]
        counts[status] = counts.get(status, 0) + 1
    log('sweep done: %s; table in %s' % (', '.join('%d %s' % (n, status) for status, n in
                                                   sorted(counts.items())), paths[0]))
    return rows


def _epochs_done(folder):
    state = _read_json(os.path.join(folder, STATE_FILE))
    return state.get('epoch', 0) if isinstance(state, dict) else 0


def _paper_errors(models, label_sets, tables):
    names = {m: paper_name(m) for m in models}
    errors = {(m, s): paper_error(tables, m, s) if tables is not None else None
              for m in models for s in label_sets}
    return names, errors


def _released_errors(path):
    """``{(zoo name, label set): error}`` of the released weights from ``results/table3.csv``;
    none for ``cifar100-fine``, which no released weights were trained on."""
    if path is None or not os.path.isfile(path):
        return {}
    errors = {}
    for row in read_csv(path):
        errors[(row['zoo_name'], 'cifar10')] = row['cifar10_error']
        errors[(row['zoo_name'], 'cifar100-coarse')] = row['cifar100_coarse_error']
    return errors


def collect(models, label_sets, out, config=None, states=None, paper_tables=None,
            released_csv=None):
    """The table's rows, one per (model, label set), from the run folders under ``out``.

    Parameters
    ----------
    models, label_sets : list of str
    out : str
    config : TrainConfig, optional
        The schema's length for runs not started yet.
    states : dict, optional
        ``{(model, label set): 'running' | 'queued' | ...}`` known to a running sweep.
    paper_tables : dict, optional
        :func:`gluon_pydmn.reproduce.paper.load_paper_tables`' result; default loaded if available.
    released_csv : str, optional
        ``results/table3.csv`` of ``make reproduce-table3``, for the released weights' errors.

    Returns
    -------
    list of dict
        Keys of :data:`COLUMNS`. ``status`` is ``finished``, ``running``, ``queued``,
        ``failed: <reason>``, ``stopped`` (an unfinished run no sweep is training) or
        ``not started``.
    """
    if paper_tables is None:
        try:
            paper_tables = load_paper_tables()
        except FileNotFoundError:
            paper_tables = None
    names, paper = _paper_errors(models, label_sets, paper_tables)
    released = _released_errors(released_csv)
    rows = []
    for model in models:
        for label_set in label_sets:
            key = (model, label_set)
            folder = run_folder(out, model, label_set)
            row = {'model': names[model] or model, 'zoo_name': model, 'label_set': label_set,
                   'epochs_done': 0, 'epochs': config.epochs if config else None,
                   'paper_error': paper[key], 'released_error': released.get(key)}
            if os.path.isfile(os.path.join(folder, RUN_FILE)):
                try:
                    run, history = read_run(folder)
                except FileNotFoundError:
                    run, history = None, []
                if run is not None:
                    row.update(epochs=run['config']['epochs'], train_images=run['train_images'])
                if history:
                    result = run_result(history)
                    row.update(epochs_done=result['last_epoch'], last_error=result['last_error'],
                               best_error=result['best_error'], best_epoch=result['best_epoch'])
            task = _read_json(os.path.join(folder, TASK_FILE)) or {}
            row['test_images'] = task.get('test_images')
            failure = _read_json(os.path.join(folder, FAILURE_FILE))
            finished = (os.path.isfile(os.path.join(folder, FINAL_FILE))
                        and row['epochs_done'] == row['epochs'])
            if finished:
                row['status'] = 'finished'
            elif failure is not None:
                row['status'] = 'failed: %s' % failure['reason']
            elif states and states.get(key) in ('running', 'queued'):
                row['status'] = states[key]
            else:
                row['status'] = 'stopped' if row['epochs_done'] else 'not started'
            rows.append(row)
    return rows


def _cell(value, key):
    if value is None:
        return ''
    if isinstance(value, float):
        return '%.2f' % value if key.endswith('error') else '%g' % value
    return str(value)


def to_csv(rows):
    """CSV text of the rows (empty cells where there is no value)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow([c for c, _ in COLUMNS])
    for row in rows:
        writer.writerow(['' if row.get(c) is None else
                         ('%.6g' % row[c] if isinstance(row[c], float) else row[c])
                         for c, _ in COLUMNS])
    return text.getvalue()


def to_markdown(rows, command=None):
    """A markdown page: the table and what its columns mean."""
    lines = ['# Table 3 by training', '']
    if command:
        lines += ['Written by `%s` on %s.' % (command, datetime.date.today().isoformat()), '']
    lines += ['| ' + ' | '.join(h for _, h in COLUMNS) + ' |',
              '|' + '|'.join('---' if c in ('model', 'zoo_name', 'label_set', 'status') else '---:'
                             for c, _ in COLUMNS) + '|']
    for row in rows:
        lines.append('| ' + ' | '.join(_cell(row.get(c), c).replace('|', '/') for c, _ in COLUMNS)
                     + ' |')
    lines += ['', 'Errors are top-1 test errors of the trained runs after their last and best '
              'epochs. The label sets are CIFAR-10, CIFAR-100 on its 20 coarse labels '
              '(`cifar100-coarse`, 100 outputs, the authors\' protocol, which the paper\'s '
              '"CIFAR-100" column reports) and CIFAR-100 on its 100 fine labels '
              '(`cifar100-fine`, which the paper does not report). "released weights" is the '
              'error of the authors\' checkpoints in `results/table3.csv` '
              '(`make reproduce-table3`). A stopped run resumes when the sweep is run again.']
    return '\n'.join(lines) + '\n'


def write_table(out, rows, command=None):
    """Write ``table3-trained.md`` and ``table3-trained.csv`` into ``out``; returns their
    paths."""
    paths = [os.path.join(out, TABLE_NAME + ext) for ext in ('.md', '.csv')]
    for path, text in zip(paths, (to_markdown(rows, command), to_csv(rows))):
        write_text(path, text)
    return paths
