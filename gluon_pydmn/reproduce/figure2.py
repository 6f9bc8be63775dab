"""The paper's Figure 2: training loss and test error per epoch of trained networks.

The paper draws these curves for the pre-activation ResNet-110 (GluonCV's
``cifar_resnet110_v2``) and PydMobileNet-Concat-56-0.25 on CIFAR-10. Here the curves come from
run folders of :func:`gluon_pydmn.train.train` (``gluon-pydmn train``): each run's
``history.csv`` gives the curves and its ``run.json`` the network, its #params and the schema,
which the caption states, so any set of runs can be drawn the same way.
"""
import functools
import itertools
import os
import textwrap
from collections import Counter

from matplotlib.figure import Figure

from ..catalog import display_name
from ..run_folder import RunFolder
from .paper import paper_error as _paper_error
from .paper import paper_source
from .figure_files import save_figure

__all__ = ['plot_training_curves', 'save_training_curves']

_COLORS = ('tab:red', 'tab:green', 'tab:blue', 'tab:orange', 'tab:purple', 'tab:brown', 'tab:gray')


def plot_training_curves(run_dirs, footer=None, paper_error=None, error_range=None):
    """Draw training loss and test error per epoch, one curve per run.

    Parameters
    ----------
    run_dirs : list of str
        Run folders with ``run.json`` and ``history.csv``.
    footer : str, optional
        Extra text at the end of the caption, e.g. the command that generated the figure.
    paper_error : callable, optional
        ``paper_error(model, label_set)``: the paper's error or None
        (``functools.partial(`` :func:`~gluon_pydmn.reproduce.paper.paper_error` ``, tables)``).
        Where it gives one, a dotted line marks it on the test-error axis (in the run's colour,
        or black, once, for several runs of one network) and the caption quotes it.
    error_range : (float, float), optional
        The test-error axis, in percent (e.g. ``(6, 12)`` to tell apart runs that end close
        together); by default from 0 to just above the highest error drawn.

    Test errors of epochs with a caveat (:class:`~gluon_pydmn.run_folder.Caveat`, e.g. tested
    with a stale input BatchNorm) are drawn faded, and the caption gives the caveat.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: training loss, then test error (%), both against the epoch.
    """
    if not run_dirs:
        raise ValueError('no run folder given')
    if error_range is not None and not 0 <= error_range[0] < error_range[1]:
        raise ValueError('error_range must be (low, high) in percent with 0 <= low < high, '
                         'got %s' % (error_range,))
    folders = [RunFolder(d) for d in run_dirs]
    runs = [(f.record(), f.history()) for f in folders]
    names = _run_names(run_dirs, [run for run, _ in runs])
    fig = Figure()
    loss_ax, error_ax = fig.subplots(1, 2)
    caption = []
    papers = {}  # (model, label set) -> the paper's error, its source, the line's colour
    runs_per_task = Counter((run['model'], run['label_set']) for run, _ in runs)
    for folder, (run, history), name, color in zip(folders, runs, names,
                                                   itertools.cycle(_COLORS)):
        caveats = folder.caveats()
        _draw_run(loss_ax, error_ax, history, caveats, color,
                  '%s (%.3fM params)' % (name, run['params'] / 1e6))
        task = (run['model'], run['label_set'])
        paper = paper_error(*task) if paper_error else None
        source = paper_source(run['model']) if paper is not None else None
        if paper is not None and task not in papers:
            papers[task] = (paper, source, color if runs_per_task[task] == 1 else 'black')
        caption.append(_caption(name, run, folder.result(), caveats,
                                '' if paper is None else ' The paper: %.2f%% (%s; dotted line).'
                                % (paper, source)))
    for paper, source, color in papers.values():  # after the runs: last in the legend
        error_ax.axhline(paper, color=color, linestyle=':', linewidth=1.2,
                         label='paper: %.2f%% (%s)' % (paper, source))
    for ax, ylabel in ((loss_ax, 'training loss'), (error_ax, 'test error (%)')):
        ax.set_xlabel('epoch')
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    error_ax.set_ylim(error_range or
                      (0, min(100, max(r['test_error'] for _, h in runs for r in h) * 1.05)))
    caption.append('Training loss: the soft-label cross-entropy while mixup is on.')
    text = '\n'.join(textwrap.fill(line, 170) for line in caption + ([footer] if footer else []))
    _lay_out(fig, text, *error_ax.get_legend_handles_labels())
    return fig


def _draw_run(loss_ax, error_ax, history, caveats, color, label):
    """One run's training loss, and its test error, faded over the epochs with a caveat."""
    loss_ax.plot([r['epoch'] for r in history], [r['train_loss'] for r in history],
                 color=color, label=label)
    doubtful = [r for r in history if any(r['epoch'] in c for c in caveats)]
    valid = [r for r in history if r not in doubtful]
    if doubtful:  # faded, so the eye follows the valid ones
        error_ax.plot([r['epoch'] for r in doubtful], [r['test_error'] for r in doubtful],
                      color=color, alpha=0.35, linewidth=0.8, label=None if valid else label)
    if valid:
        error_ax.plot([r['epoch'] for r in valid], [r['test_error'] for r in valid],
                      color=color, label=label)


def _caption(name, run, result, caveats, paper_note):
    """One run's line of the caption: data, schema, progress, errors, the paper's, caveats."""
    return ('%s on %s, %d training images: %s. %d of %d epochs done; test error %.2f%% at the '
            'last epoch, %.2f%% at the best (epoch %d).%s%s'
            % (name, run['label_set'], run['train_images'], run['schema'],
               result['last_epoch'], run['config']['epochs'], result['last_error'],
               result['best_error'], result['best_epoch'], paper_note,
               ''.join(' %s Their test-error curve is faded.' % c.note() for c in caveats)))


def save_training_curves(run_dirs, out, command, tables, error_range=None):
    """Draw :func:`plot_training_curves` of ``run_dirs``, the paper's errors from ``tables``
    dotted, and write it to ``out`` (the extension picks the format) with ``command`` in its
    caption and metadata."""
    note = ('Generated by `%s` from the runs\' history.csv and run.json; do not edit by hand.'
            % command)
    fig = plot_training_curves(run_dirs, footer=note,
                               paper_error=functools.partial(_paper_error, tables),
                               error_range=error_range)
    save_figure(fig, out, description=note)


def _lay_out(fig, caption, handles, labels):
    """Size the figure so the axes, one legend for both and the caption stack without overlap.

    The legend goes under the axes rather than on them: the curves that matter (runs ending
    close together) sit exactly where a legend inside would cover them.
    """
    columns = 2 if len(labels) > 2 else 1
    legend_height = 0.15 + 0.2 * -(-len(labels) // columns)   # inches
    caption_height = 0.1 + 0.12 * (caption.count('\n') + 1)
    top, axes_height, xlabel = 0.25, 3.4, 0.55
    height = top + axes_height + xlabel + legend_height + caption_height
    fig.set_size_inches(11, height)
    fig.subplots_adjust(top=1 - top / height, bottom=1 - (top + axes_height) / height,
                        left=0.07, right=0.98, wspace=0.2)
    fig.legend(handles, labels, loc='lower center', ncol=columns, fontsize=8,
               bbox_to_anchor=(0.5, caption_height / height))
    fig.text(0.01, 0.01, caption, fontsize=7, color='dimgray', va='bottom')



def _run_names(run_dirs, runs):
    """Each run's network name, told apart where several runs train the same network.

    Runs of one network are named by their seed where it differs (", seed 1"), otherwise by
    their folder, so no two curves share a legend entry.
    """
    names = [display_name(run['model']) for run in runs]
    seeds = [run['config'].get('seed') for run in runs]
    runs_per_name, runs_per_seed = Counter(names), Counter(zip(names, seeds))
    out = []
    for name, seed, run_dir in zip(names, seeds, run_dirs):
        if runs_per_name[name] == 1:
            out.append(name)
        elif runs_per_seed[name, seed] == 1:
            out.append('%s, seed %s' % (name, seed))
        else:
            out.append('%s, %s' % (name, os.path.basename(os.path.normpath(run_dir))))
    return out
