"""The paper's Figure 2: training loss and test error per epoch of trained networks.

The paper draws these curves for the pre-activation ResNet-110 (GluonCV's
``cifar_resnet110_v2``) and PydMobileNet-Concat-56-0.25 on CIFAR-10. Here the curves come from
run folders of :func:`gluon_pydmn.train.train` (``experiments/train.py``): each run's
``history.csv`` gives the curves and its ``run.json`` the network, its #params and the schema,
which the caption states, so any set of runs can be drawn the same way.
"""
import ast
import os
import re
import textwrap

from matplotlib.figure import Figure

from ..catalog import MODEL_CFGS
from ..run_folder import read_history, read_run, read_run_spec, run_result
from ..schema import TrainConfig

__all__ = ['display_name', 'plot_training_curves']


def display_name(model):
    """The paper's name of a zoo network (``PydMobileNet-Concat-56-0.25``), a readable one for
    GluonCV's CIFAR ResNets (``ResNet-110 v2 (pre-activation, GluonCV)``); others as they are."""
    cfg = MODEL_CFGS.get(model)
    if cfg is not None:
        return cfg.paper_name
    resnet = re.fullmatch(r'cifar_resnet(\d+)_v([12])', model or '')
    if resnet:
        return 'ResNet-%s (%sGluonCV)' % (resnet.group(1), 'pre-activation, '
                                         if resnet.group(2) == '2' else '')
    return model


def plot_training_curves(run_dirs, footer=None):
    """Draw training loss and test error per epoch, one curve per run.

    Parameters
    ----------
    run_dirs : list of str
        Run folders with ``run.json`` and ``history.csv``.
    footer : str, optional
        Extra text at the end of the caption, e.g. the command that generated the figure.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: training loss, then test error (%), both against the epoch.
    """
    if not run_dirs:
        raise ValueError('no run folder given')
    runs = [read_run(d) for d in run_dirs]
    fig = Figure(figsize=(11, 5.2))
    loss_ax, error_ax = fig.subplots(1, 2)
    caption = []
    for (run, history), color in zip(runs, ('tab:red', 'tab:green', 'tab:blue', 'tab:orange',
                                            'tab:purple', 'tab:brown', 'tab:gray')):
        label = '%s (%.3fM params)' % (display_name(run['model']), run['params'] / 1e6)
        epochs = [r['epoch'] for r in history]
        loss_ax.plot(epochs, [r['train_loss'] for r in history], color=color, label=label)
        error_ax.plot(epochs, [r['test_error'] for r in history], color=color, label=label)
        result = run_result(history)
        caption.append('%s on %s, %d training images: %s. %d of %d epochs done; test error '
                       '%.2f%% at the last epoch, %.2f%% at the best (epoch %d).'
                       % (display_name(run['model']), run['label_set'], run['train_images'],
                          run['schema'], result['last_epoch'], run['config']['epochs'],
                          result['last_error'], result['best_error'], result['best_epoch']))
    for ax, ylabel in ((loss_ax, 'training loss (soft-label cross-entropy while mixup is on)'),
                       (error_ax, 'test error (%)')):
        ax.set_xlabel('epoch')
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    error_ax.set_ylim(0, min(100, max(r['test_error'] for _, h in runs for r in h) * 1.05))
    text = '\n'.join(textwrap.fill(line, 170) for line in caption + ([footer] if footer else []))
    fig.text(0.01, 0.01, text, fontsize=7, color='dimgray', va='bottom')
    fig.subplots_adjust(top=0.95, bottom=0.12 + 0.035 * text.count('\n'), wspace=0.25)
    return fig


def runs_markdown(run_dirs, paper_error=None):
    """A markdown table of training runs: network, data, schema, epochs, last/best error.

    Parameters
    ----------
    run_dirs : list of str
        Run folders; those without ``history.csv`` are left out. What a run trains is read
        from its ``run.json``, from ``state.json`` for runs older than that file, and from the
        first lines of ``summary.md`` for runs older than both.
    paper_error : callable, optional
        ``paper_error(model, label_set)`` gives the paper's Table 3 error or None.
    """
    lines = ['| run folder | network | data | training images | schema | epochs done | '
             'last-epoch error (%) | best-epoch error (%) | paper (%) |',
             '|---|---|---|---:|---|---:|---:|---:|---:|']
    for folder in run_dirs:
        if not os.path.isfile(os.path.join(folder, 'history.csv')):
            continue
        result = run_result(read_history(folder))
        spec = _run_spec(folder)
        paper = (paper_error(spec['model'], spec['label_set'])
                 if paper_error and spec['label_set'] else None)
        lines.append('| %s | %s | %s | %s | %s | %d of %s | %.2f | %.2f (epoch %d) | %s |' % (
            os.path.basename(os.path.normpath(folder)), display_name(spec['model'] or ''),
            spec['label_set'] or 'see its summary.md', spec['train_images'] or '',
            spec['config'].describe() if spec['config'] else '', result['last_epoch'],
            spec['config'].epochs if spec['config'] else '?', result['last_error'],
            result['best_error'], result['best_epoch'], '' if paper is None else '%.2f' % paper))
    return '\n'.join(lines) + '\n'


def _run_spec(folder):
    """:func:`~gluon_pydmn.run_folder.read_run_spec`, falling back on ``summary.md`` for runs that
    have neither ``run.json`` nor ``state.json``; unknown entries are None."""
    try:
        return read_run_spec(folder)
    except FileNotFoundError:
        pass
    spec = dict.fromkeys(('model', 'label_set', 'train_images', 'config'))
    try:
        with open(os.path.join(folder, 'summary.md')) as f:
            title, _, text = f.read().partition('\n')
        spec['model'], spec['label_set'] = re.fullmatch(r'# (\S+) on (\S+)', title).groups()
        spec['train_images'] = int(re.search(r'(\d+) training images', text).group(1))
        # "Schema: [description; ]epochs=12, ..., lr_decay_epochs=(6, 9), ..., seed=0."
        schema = re.search(r'Schema: (?:[^;\n]*; )?([^\n]*)\.\n', text).group(1)
        spec['config'] = TrainConfig.from_dict({k: ast.literal_eval(v) if v[0] in '(0123456789'
                                                else v for k, v in
                                                re.findall(r'(\w+)=(\([^)]*\)|[^,]+)', schema)})
    except (OSError, AttributeError, ValueError, SyntaxError):
        pass  # the index shows what could be read
    return spec
