"""Table 3 by training: one :func:`gluon_pydmn.train.run_training` run per (network, label
set), as Ray tasks on this machine or on any Ray cluster, collected into one table.

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
import dataclasses
import datetime
import functools
import json
import os
import socket
import typing

import mxnet as mx

from .. import tables
from ..catalog import MODEL_CFGS, label_set as _label_set
from ..cpu import configure_cpu, engine_threads
from ..errors import (CheckpointMismatchError, ConfigError, NotARunFolderError,
                      RunFolderNotWritableError, UnknownNameError)
from ..model_zoo import gluoncv_cifar_names
from ..run_folder import FINAL_FILE, RUN_FILE, RunFolder, RunSpec
from ..train import run_training
from ..utils import write_text
from .paper import load_paper_tables, paper_error, paper_name, paper_note
from .table3 import read_csv

__all__ = ['TABLE3_LABEL_SETS', 'COLUMNS', 'head_width', 'run_folder', 'check_model_names',
           'sweep_specs', 'check_folders', 'train_run', 'SweepResources', 'SweepMonitor', 'run_sweep', 'collect',
           'to_csv', 'to_markdown', 'write_table']

# The paper's protocol: CIFAR-10, and CIFAR-100 trained and scored on its 20 coarse labels.
TABLE3_LABEL_SETS = ('cifar10', 'cifar100-coarse')
FAILURE_FILE = 'failure.json'
TASK_FILE = 'sweep.json'
TABLE_NAME = 'table3-trained'

_text = functools.partial(tables.Column, kind=str)
_count = functools.partial(tables.Column, fmt='%d', kind=int)
_error = functools.partial(tables.Column, fmt='%.2f')
COLUMNS = [
    _text('model', 'Model'),
    _text('zoo_name', 'name'),
    _text('label_set', 'label set'),
    _text('status', 'status'),
    _count('epochs_done', 'epochs done'),
    _count('epochs', 'of'),
    _count('train_images', 'train images'),
    _count('test_images', 'test images'),
    _error('last_error', 'last-epoch err (%)'),
    _error('best_error', 'best-epoch err (%)'),
    _count('best_epoch', 'best epoch'),
    _error('paper_error', 'paper err (%) (C10 / "CIFAR-100" = 20 coarse labels)'),
    _error('released_error', 'released weights err (%)'),
]
"""Columns of ``table3-trained.csv`` and ``.md`` (:mod:`gluon_pydmn.tables`); empty cells
where a run has no value yet."""


def head_width(label_set):
    """Outputs of the network trained on ``label_set`` (:data:`gluon_pydmn.catalog.LABEL_SETS`):
    10 for CIFAR-10 and 100 for both CIFAR-100 label sets (the authors' coarse-label networks
    have 100 outputs and learn to use the first 20)."""
    return _label_set(label_set).head_width


def run_folder(out, model, label_set):
    """The run folder of ``model`` on ``label_set`` in a sweep writing into ``out``."""
    return os.path.join(out, '%s-%s' % (model, label_set))


def check_model_names(names):
    """Raise :class:`~gluon_pydmn.errors.UnknownNameError` naming the valid names unless every
    name is a zoo network or a GluonCV CIFAR network (``cifar_resnet20_v1``...)."""
    valid = set(MODEL_CFGS) | set(gluoncv_cifar_names())
    unknown = sorted(set(names) - valid)
    if unknown:
        raise UnknownNameError('unknown network(s) %s; use zoo names (%s) or GluonCV CIFAR '
                               'names (%s)' % (', '.join(unknown), ', '.join(MODEL_CFGS),
                                               ', '.join(gluoncv_cifar_names())))


def sweep_specs(models, label_sets, config, train_images=None, test_images=None):
    """The runs of a sweep: one :class:`~gluon_pydmn.run_folder.RunSpec` per (model, label set),
    in that order, all with ``config`` and the same training and test images (None: all)."""
    check_model_names(models)
    for option, names in (('--models', models), ('--datasets', label_sets)):
        twice = sorted({n for n in names if list(names).count(n) > 1})
        if twice:
            raise ConfigError('%s names %s more than once: each network and label set is one '
                              'run' % (option, ', '.join(twice)))
    return [RunSpec(m, s, config, train_images=train_images, test_images=test_images)
            for m in models for s in label_sets]


def check_folders(specs, out):
    """Refuse an ``out`` that cannot hold run folders, and a run whose folder there holds a run
    of another spec (schema, training or test images), naming the differences, before any
    task starts."""
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise RunFolderNotWritableError('cannot create the sweep folder %s (%s): give --out a '
                                        'folder path' % (out, e.strerror or e)) from None
    for spec in specs:
        folder = RunFolder(run_folder(out, *_key(spec)))
        if folder.has(RUN_FILE):
            differences = spec.differences(folder.spec())
            if differences:
                raise CheckpointMismatchError(
                    '%s holds a run with other options (%s): rerun the sweep with the options '
                    'it was started with, or give another --out'
                    % (folder.path, ', '.join(differences)))


def train_run(spec, out_dir, data_root=None, report=None):
    """Train one run of a sweep into ``out_dir`` (what each Ray task does; callable directly).

    Parameters
    ----------
    spec : RunSpec
        Its ``ctx`` says where to train (default the CPU, with :func:`configure_cpu`).
    out_dir : str
        The run folder: resumed if it holds a checkpoint of this run, nothing is done if the
        run is finished.
    data_root : str, optional
        CIFAR folder on the machine running this (default ``$GLUON_PYDMN_DATA``).
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
    if not spec.ctx or spec.ctx[0].device_type == 'cpu':
        configure_cpu()  # before MXNet's first operator (threads come from the environment)
    os.makedirs(out_dir, exist_ok=True)
    _write_json(os.path.join(out_dir, TASK_FILE), {
        'model': spec.model, 'label_set': spec.label_set, 'test_images': spec.test_images,
        'host': socket.gethostname(), 'pid': os.getpid(), 'context': str(spec.ctx),
        'omp_num_threads': os.environ.get('OMP_NUM_THREADS'), 'omp_threads': engine_threads()})

    def log(message):
        # the epoch lines are reported by on_epoch_end; the others (resuming, finished) here
        if not message.startswith('epoch '):
            report('log', message=message)
    return run_training(spec, out_dir, data_root=data_root, progress=False, log=log,
                        note=paper_note(spec.model, spec.label_set),
                        on_epoch_end=lambda history: report('epoch', row=history[-1],
                                                            epochs=spec.config.epochs))


def _task(spec, out_dir, data_root, queue):
    """The Ray task: :func:`train_run` on the GPUs Ray gave it, reporting through ``queue``."""
    import warnings

    import ray
    warnings.filterwarnings('ignore', 'Cannot decide type')  # MXNet's, on every hybridize

    node = ray.get_runtime_context().get_node_id()

    def report(kind, **fields):
        queue.put(dict(fields, kind=kind, model=spec.model, label_set=spec.label_set,
                       pid=os.getpid(), node=node))
    # Ray sets CUDA_VISIBLE_DEVICES to the task's GPUs, which MXNet then numbers from 0
    gpus = len(ray.get_gpu_ids())
    ctx = [mx.gpu(i) for i in range(gpus)] if gpus else [mx.cpu()]
    return train_run(spec.replace(ctx=ctx), out_dir, data_root, report=report)


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


@dataclasses.dataclass(frozen=True)
class SweepResources:
    """What Ray gives each run of a sweep, and where the sweep runs.

    Attributes
    ----------
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
    """
    cpus_per_run: int = 1
    gpus_per_run: typing.Optional[float] = None
    max_retries: int = 3
    address: typing.Optional[str] = None

    def task_options(self, gpus_per_run):
        """Ray options of one run's task."""
        threads = str(max(1, int(self.cpus_per_run)))
        return dict(num_cpus=self.cpus_per_run, num_gpus=gpus_per_run,
                    max_retries=self.max_retries, retry_exceptions=False,
                    runtime_env={'env_vars': {  # read when the worker imports MXNet
                        'OMP_NUM_THREADS': threads, 'MXNET_OMP_MAX_THREADS': threads,
                        'OPENBLAS_NUM_THREADS': threads}})


class SweepMonitor:
    """What a running sweep knows of its runs: their status and epochs done, from the events
    the tasks report; it logs one line per finished epoch across the sweep.

    Parameters
    ----------
    specs : list of RunSpec
    log : callable
        Receives the progress lines.
    on_event : callable, optional
        Also called with each event.
    epoch_lines : bool
        Log a line per finished epoch (else only each run's end).
    """

    def __init__(self, specs, log=print, on_event=None, epoch_lines=True):
        self.specs, self.log, self.on_event = specs, log, on_event
        self.epoch_lines = epoch_lines
        self.status = {_key(s): 'not started' for s in specs}
        self.epochs = {_key(s): 0 for s in specs}

    def progress(self):
        """``[epochs done/epochs in all; runs: N finished, N running, ...]``."""
        counts = {k: sum(s == k for s in self.status.values())
                  for k in ('finished', 'running', 'failed', 'queued')}
        return '[%d/%d epochs; runs: %s]' % (
            sum(self.epochs.values()), sum(s.config.epochs for s in self.specs),
            ', '.join('%d %s' % (n, k) for k, n in counts.items()))

    def handle(self, event):
        """Take one event of a task (``kind`` 'start', 'log' or 'epoch')."""
        key = (event['model'], event['label_set'])
        name = '%s %s' % key
        if event['kind'] == 'start':
            self.status[key] = 'running'
        elif event['kind'] == 'log':
            self.log('%s: %s' % (name, event['message']))
        elif event['kind'] == 'epoch':
            row = event['row']
            self.epochs[key] = row['epoch']
            if self.epoch_lines:
                self.log('%s %s: epoch %d/%d  lr %g  loss %.4f  test error %.2f%%  (%.0f s)'
                         % (self.progress(), name, row['epoch'], event['epochs'], row['lr'],
                            row['train_loss'], row['test_error'], row['seconds']))
        if self.on_event is not None:
            self.on_event(event)

    def drain(self, queue):
        """Handle every event waiting in ``queue``."""
        while not queue.empty():
            self.handle(queue.get_nowait())

    def ended(self, key, reason=None):
        """Run ``key`` ended: finished, or failed with ``reason``."""
        self.status[key] = 'failed' if reason else 'finished'
        self.log('%s %s %s: %s' % ((self.progress(),) + key
                                   + ('failed: %s' % reason if reason else 'finished',)))


def _key(spec):
    return spec.model, spec.label_set


def run_sweep(specs, out, *, resources=SweepResources(), data_root=None, on_event=None, log=print,
              command=None, released_csv=None, progress=True):
    """Train every run of ``specs`` as a Ray task and write the table into ``out``.

    Parameters
    ----------
    specs : list of RunSpec
        :func:`sweep_specs`.
    out : str
        Folder of the run folders (:func:`run_folder`) and of ``table3-trained.md``/``.csv``;
        on a cluster it must be on a filesystem all nodes share.
    resources : SweepResources
    data_root : str, optional
        CIFAR folder, as seen by each worker (default ``$GLUON_PYDMN_DATA`` there).
    on_event : callable, optional
        Called in the driver with each event the runs report (dicts with ``kind``
        ``'start'``/``'log'``/``'epoch'``, ``model``, ``label_set``, ``pid`` and ``node``, the
        Ray node id of the task).
    log : callable
        Receives the progress lines: one per finished epoch across the sweep, and a summary.
    command : str, optional
        Recorded in ``table3-trained.md``.
    released_csv : str, optional
        ``results/table3.csv``, for the released weights' errors (:func:`collect`).
    progress : bool
        Log a line per finished epoch across the sweep (else only each run's end).

    Returns
    -------
    list of dict
        The table's rows (:func:`collect`).
    """
    import ray
    check_folders(specs, out)
    started_ray = not ray.is_initialized()
    if started_ray:
        local = resources.address is None and not os.environ.get('RAY_ADDRESS')
        ray.init(address=resources.address, **(dict(include_dashboard=False) if local else {}))
    monitor = SweepMonitor(specs, log, on_event, epoch_lines=progress)
    try:
        _train_runs(specs, out, resources, data_root, monitor,
                    lambda: write_table(out, collect(specs, out, monitor.status,
                                                     released_csv=released_csv), command))
    finally:
        if started_ray:
            ray.shutdown()
    rows = collect(specs, out, released_csv=released_csv)
    paths = write_table(out, rows, command)
    counts = {}
    for row in rows:
        status = row['status'].split(':')[0]
        counts[status] = counts.get(status, 0) + 1
    log('sweep done: %s; table in %s' % (', '.join('%d %s' % (n, status) for status, n in
                                                   sorted(counts.items())), paths[0]))
    return rows


def _train_runs(specs, out, resources, data_root, monitor, on_run_end):
    """Start a task for every unfinished run and wait for them all."""
    import ray
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    gpus = resources.gpus_per_run
    if gpus is None:
        gpus = 1 if ray.cluster_resources().get('GPU', 0) > 0 else 0
    task = ray.remote(max_calls=1)(_task)  # a fresh worker (and MXNet) for each run
    # the queue lives on the driver's node: a lost worker node must not take it along
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    queue = Queue(actor_options={'num_cpus': 0, 'scheduling_strategy': here})
    pending = {}
    for spec in specs:
        key, folder = _key(spec), RunFolder(run_folder(out, *_key(spec)))
        monitor.epochs[key] = _epochs_done(folder)
        if folder.is_finished() and spec.matches(folder.spec()):
            monitor.status[key] = 'finished'
            continue
        if folder.has(FAILURE_FILE):
            os.remove(folder.file(FAILURE_FILE))
        ref = task.options(name='%s-%s' % key, **resources.task_options(gpus)).remote(
            spec, os.path.abspath(folder.path), data_root, queue)
        pending[ref] = key
        monitor.status[key] = 'queued'
    monitor.log('sweep of %d runs into %s (%s): %d finished already, %d to train with %s CPU(s) '
                'and %s GPU(s) each' % (len(specs), out, specs[0].config.describe() if specs
                                        else 'no runs', len(specs) - len(pending), len(pending),
                                        resources.cpus_per_run, gpus))
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        monitor.drain(queue)
        for ref in ready:
            key = pending.pop(ref)
            try:
                ray.get(ref)
                monitor.ended(key)
            except ray.exceptions.RayError as e:
                reason = _reason(e)
                _write_json(os.path.join(run_folder(out, *key), FAILURE_FILE),
                            {'reason': reason, 'at': datetime.datetime.now().isoformat()})
                monitor.ended(key, reason)
            on_run_end()
    monitor.drain(queue)
    queue.shutdown()


def _epochs_done(folder):
    try:
        state = folder.state()
    except NotARunFolderError:
        return 0
    return state['epoch'] if state else 0


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


def collect(specs, out, states=None, paper_tables=None, released_csv=None):
    """The table's rows, one per run of ``specs``, from the run folders under ``out``.

    Parameters
    ----------
    specs : list of RunSpec
    out : str
    states : dict, optional
        ``{(model, label set): 'running' | 'queued' | ...}`` known to a running sweep.
    paper_tables : dict, optional
        :func:`gluon_pydmn.reproduce.paper.load_paper_tables`' result; default loaded if available.
    released_csv : str, optional
        ``results/table3.csv`` of ``gluon-pydmn table3``, for the released weights' errors.

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
    released = _released_errors(released_csv)
    return [_row(spec, RunFolder(run_folder(out, *_key(spec))), paper_tables, released,
                 (states or {}).get(_key(spec))) for spec in specs]


def _row(spec, folder, paper_tables, released, state):
    """The table row of one run (:func:`collect`)."""
    key = _key(spec)
    row = {'model': paper_name(spec.model) or spec.model, 'zoo_name': spec.model,
           'label_set': spec.label_set, 'epochs_done': 0, 'epochs': spec.config.epochs,
           'paper_error': paper_error(paper_tables, *key) if paper_tables else None,
           'released_error': released.get(key)}
    try:
        record = folder.record()
        row.update(epochs=record['config']['epochs'], train_images=record['train_images'])
        if folder.state():
            result = folder.result()
            row.update(epochs_done=result['last_epoch'], last_error=result['last_error'],
                       best_error=result['best_error'], best_epoch=result['best_epoch'])
    except NotARunFolderError:
        pass
    row['test_images'] = (_read_json(folder.file(TASK_FILE)) or {}).get('test_images')
    failure = _read_json(folder.file(FAILURE_FILE))
    if folder.has(FINAL_FILE) and row['epochs_done'] == row['epochs']:
        row['status'] = 'finished'
    elif failure is not None:
        row['status'] = 'failed: %s' % failure['reason']
    elif state in ('running', 'queued'):
        row['status'] = state
    else:
        row['status'] = 'stopped' if row['epochs_done'] else 'not started'
    return row


def to_csv(rows):
    """CSV text of the rows (empty cells where there is no value)."""
    return tables.to_csv(rows, COLUMNS)


def to_markdown(rows, command=None):
    """A markdown page: the table and what its columns mean."""
    lines = ['# Table 3 by training', '']
    if command:
        lines += ['Written by `%s` on %s.' % (command, datetime.date.today().isoformat()), '']
    lines += tables.to_markdown(rows, COLUMNS)
    lines += ['', 'Errors are top-1 test errors of the trained runs after their last and best '
              'epochs. The label sets are CIFAR-10, CIFAR-100 on its 20 coarse labels '
              '(`cifar100-coarse`, 100 outputs, the authors\' protocol, which the paper\'s '
              '"CIFAR-100" column reports) and CIFAR-100 on its 100 fine labels '
              '(`cifar100-fine`, which the paper does not report). "released weights" is the '
              'error of the authors\' checkpoints in `results/table3.csv` '
              '(`gluon-pydmn table3`). A stopped run resumes when the sweep is run again.']
    return '\n'.join(lines) + '\n'


def write_table(out, rows, command=None):
    """Write ``table3-trained.md`` and ``table3-trained.csv`` into ``out``; returns their
    paths."""
    paths = [os.path.join(out, TABLE_NAME + ext) for ext in ('.md', '.csv')]
    for path, text in zip(paths, (to_markdown(rows, command), to_csv(rows))):
        write_text(path, text)
    return paths
