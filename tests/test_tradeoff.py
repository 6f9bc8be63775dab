"""The trade-off plot: the Table 3 CSV reader and the plot drawn from it.

The rows are the committed results/table3.csv, which experiments/reproduce_table3.py wrote on
a real run; every zoo model must appear in every panel at its own numbers.
"""
import os
import runpy
import sys

import pytest
from PIL import Image

from gluon_pydmn.catalog import FAMILIES, MODEL_CFGS
from gluon_pydmn.reproduce import table3
from gluon_pydmn.reproduce.tradeoff import COSTS, ERRORS, plot_tradeoff, tradeoff_curves

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE3_CSV = os.path.join(ROOT, 'results', 'table3.csv')


@pytest.fixture(scope='module')
def rows():
    return table3.read_csv(TABLE3_CSV)


@pytest.fixture(scope='module')
def figure(rows):
    return plot_tradeoff(rows, footer='footer text')


def test_read_csv_inverts_to_csv(rows):
    with open(TABLE3_CSV) as f:
        assert table3.to_csv(rows) == f.read()
    assert isinstance(rows[1]['params'], int) and isinstance(rows[1]['cifar10_error'], float)
    gluoncv = [r for r in rows if r['zoo_name'] not in MODEL_CFGS]
    assert gluoncv and all(r['cifar10_error'] is None for r in gluoncv)


def test_read_csv_errors_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match='make reproduce-table3'):
        table3.read_csv(str(tmp_path / 'missing.csv'))
    bad = tmp_path / 'old.csv'
    bad.write_text('model,zoo_name,params\nx,y,1\n')
    with pytest.raises(ValueError, match='no column.*cifar10_error'):
        table3.read_csv(str(bad))


def test_curves_are_per_family_and_depth_ordered_by_width(rows):
    curves = tradeoff_curves(rows, 'cifar10_error')
    expected = list(dict.fromkeys((c.family, c.depth) for c in MODEL_CFGS.values()))
    assert list(curves) == expected
    for key, points in curves.items():
        widths = [cfg.multiplier for cfg, _ in points]
        assert widths == sorted(c.multiplier for c in MODEL_CFGS.values()
                                if (c.family, c.depth) == key)


def test_figure_layout(figure):
    axes = figure.axes
    assert len(axes) == len(ERRORS) * len(COSTS)
    for i, ax in enumerate(axes):
        error_label, cost_label = ERRORS[i // len(COSTS)][1], COSTS[i % len(COSTS)][1]
        assert (ax.get_ylabel(), ax.get_xlabel()) == (error_label, cost_label)
        assert len(ax.get_lines()) == len({(c.family, c.depth) for c in MODEL_CFGS.values()})
    assert any(t.get_text() == 'footer text' for t in figure.texts)


@pytest.mark.parametrize('name', list(MODEL_CFGS))
def test_every_zoo_model_is_plotted_at_its_numbers(name, rows, figure):
    cfg = MODEL_CFGS[name]
    row = next(r for r in rows if r['zoo_name'] == name)
    label = '%s-%d' % (FAMILIES[cfg.family].paper_name, cfg.depth)
    for i, ax in enumerate(figure.axes):
        error, cost = ERRORS[i // len(COSTS)][0], COSTS[i % len(COSTS)][0]
        line = next(l for l in ax.get_lines() if l.get_label() == label)
        points = list(zip(line.get_xdata(), line.get_ydata()))
        assert (row[cost], row[error]) in points
        assert any(t.get_text() == cfg.alpha and tuple(t.xy) == (row[cost], row[error])
                   for t in ax.texts)


def test_rows_without_errors_are_refused(rows):
    empty = [dict(r, cifar100_coarse_error=None) for r in rows]
    with pytest.raises(ValueError, match="cifar100_coarse_error.*make reproduce-table3"):
        plot_tradeoff(empty)


def test_plot_script_writes_png_with_its_command(tmp_path, monkeypatch):
    out = tmp_path / 'fig.png'
    args = ['--table3', TABLE3_CSV, '--out', str(out)]
    monkeypatch.setattr(sys, 'argv', ['experiments/plot_tradeoff.py'] + args)
    runpy.run_path(os.path.join(ROOT, 'experiments', 'plot_tradeoff.py'), run_name='__main__')
    image = Image.open(str(out))
    assert image.format == 'PNG' and image.size == (1320, 1020)
    assert 'plot_tradeoff.py --table3 %s --out %s' % (TABLE3_CSV, out) in image.info['Description']
    assert [p.name for p in tmp_path.iterdir()] == ['fig.png']  # no temporary file left behind
