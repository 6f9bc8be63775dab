"""The trade-off plot, drawn from this package's Table 3 and Table 5: test error against model
size, cost and latency.

One curve per network family and depth, whose points are the width multipliers
(labelled with α): CIFAR-10 and CIFAR-100 on its 20 coarse labels (the protocol of the
paper's CIFAR-100 column), each against #params, against FLOPs and, given Table 5's rows,
against the measured CPU time of one batch of 128 (the 56-layer networks of Table 5).
The numbers come from ``results/table3.csv`` (``gluon-pydmn table3``) and
``results/table5-cpu.csv`` (``gluon-pydmn table5``), so the figure shows what this package
measured, not values copied from the paper.
"""
import textwrap

from matplotlib.figure import Figure

from ..catalog import FAMILIES, MODEL_CFGS

__all__ = ['COSTS', 'LATENCY', 'ERRORS', 'tradeoff_curves', 'plot_tradeoff']

# (Table 3 CSV column, axis label)
COSTS = (('params_m', '#params (M)'), ('flops_m', 'FLOPs (M multiply-accumulates)'))
# (Table 5 CSV column, axis label): the form a user would deploy
LATENCY = ('deploy_ms', 'CPU time, batch 128, deploy form (ms)')
ERRORS = (('cifar10_error', 'CIFAR-10 test error (%)'),
          ('cifar100_coarse_error', 'CIFAR-100 test error, 20 coarse labels (%)'))

_COLORS = {'resnet': 'tab:gray', 'mobilenet': 'tab:blue', 'pydmobilenet_add': 'tab:orange',
           'pydmobilenet_concat': 'tab:green'}
_DEPTH_STYLES = {29: ('--', 'o'), 56: ('-', 's')}  # (line style, marker)


def tradeoff_curves(rows, error):
    """Group Table 3 rows into one curve per family and depth.

    Parameters
    ----------
    rows : list of dict
        Rows as :func:`gluon_pydmn.reproduce.table3.read_csv` returns them.
    error : str
        The error column, e.g. ``'cifar10_error'``.

    Returns
    -------
    dict
        ``{(family, depth): [(ModelCfg, row), ...]}`` with each curve's points ordered by
        width multiplier, in the order of the zoo. Rows of models outside the zoo (the
        GluonCV references) and rows without a value in ``error`` are left out.
    """
    curves = {}
    for row in rows:
        cfg = MODEL_CFGS.get(row['zoo_name'])
        if cfg is not None and row.get(error) is not None:
            curves.setdefault((cfg.family, cfg.depth), []).append((cfg, row))
    order = {key: i for i, key in enumerate(dict.fromkeys((c.family, c.depth)
                                                           for c in MODEL_CFGS.values()))}
    return {key: sorted(points, key=lambda p: p[0].multiplier)
            for key, points in sorted(curves.items(), key=lambda kv: order[kv[0]])}


def plot_tradeoff(rows, footer=None, latency=None):
    """Draw error against #params and FLOPs and, given ``latency``, against CPU time.

    Parameters
    ----------
    rows : list of dict
        Table 3 rows (:func:`gluon_pydmn.reproduce.table3.read_csv`).
    footer : str, optional
        Small text under the panels, e.g. the command that generated the figure.
    latency : list of dict, optional
        Table 5 rows (:func:`gluon_pydmn.reproduce.table5.read_csv`): adds a third column of
        panels, error against the :data:`LATENCY` column, for the networks they time.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in row-major order: CIFAR-10 against #params, FLOPs (and CPU time), then
        CIFAR-100.
    """
    costs = list(COSTS)
    if latency:
        by_name = {r['zoo_name']: r[LATENCY[0]] for r in latency
                   if r.get(LATENCY[0]) is not None}
        costs.append(LATENCY)
    fig = Figure(figsize=(15.5 if latency else 11, 8.5))
    axes = fig.subplots(len(ERRORS), len(costs), squeeze=False)
    for (error, error_label), axes_row in zip(ERRORS, axes):
        curves = tradeoff_curves(rows, error)
        if not curves:
            raise ValueError('no zoo model has a value in column %r: regenerate the Table 3 '
                             'CSV with `gluon-pydmn table3`' % error)
        for (cost, cost_label), ax in zip(costs, axes_row):
            for (family, depth), points in curves.items():
                if cost == LATENCY[0]:
                    points = [(cfg, dict(row, **{cost: by_name[cfg.name]}))
                              for cfg, row in points if cfg.name in by_name]
                    if not points:
                        continue
                style, marker = _DEPTH_STYLES[depth]
                xs = [row[cost] for _, row in points]
                ys = [row[error] for _, row in points]
                ax.plot(xs, ys, linestyle=style, marker=marker, color=_COLORS[family],
                        label='%s-%d' % (FAMILIES[family].paper_name, depth))
                for (cfg, _), x, y in zip(points, xs, ys):
                    ax.annotate(cfg.alpha, (x, y), textcoords='offset points', xytext=(4, 3),
                                fontsize=7, color=_COLORS[family])
            ax.set_xlabel(cost_label)
            ax.set_ylabel(error_label)
            ax.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='upper center', ncol=4, fontsize=9, frameon=False)
    fig.subplots_adjust(top=0.9, bottom=0.1, hspace=0.25, wspace=0.2)
    if footer:
        fig.text(0.01, 0.01, textwrap.fill(footer, 250 if latency else 180), fontsize=7,
                 color='dimgray')
    return fig
