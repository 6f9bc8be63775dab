"""The trade-off plot: the Table 3 CSV reader and the plot drawn from it.

The rows are the committed results/table3.csv and results/table5-cpu.csv, which
experiments/reproduce_table3.py and experiments/table5.py wrote on real runs; every zoo model
must appear in every panel at its own numbers, and every Table 5 network in the CPU-time panels.
"""
import os
import runpy
import sys

import pytest
from PIL import Image

from gluon_pydmn.catalog import FAMILIES, MODEL_CFGS
from gluon_pydmn.reproduce import table3, table5
from gluon_pydmn.reproduce.tradeoff import COSTS, ERRORS, LATENCY, plot_tradeoff, tradeoff_curves

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE3_CSV = os.path.join(ROOT, 'results', 'table3.csv')
TABLE5_CSV = os.path.join(ROOT, 'results', 'table5-cpu.csv')


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


def test_latency_panels_plot_table5_at_its_numbers(rows):
    latency = table5.read_csv(TABLE5_CSV)
    assert [r['zoo_name'] for r in latency] == list(table5.TABLE5_MODELS)
    figure = plot_tradeoff(rows, latency=latency)
    assert len(figure.axes) == len(ERRORS) * (len(COSTS) + 1)
    errors = {r['zoo_name']: r for r in rows}
    for i, (error, error_label) in enumerate(ERRORS):
        ax = figure.axes[i * (len(COSTS) + 1) + len(COSTS)]
        assert (ax.get_ylabel(), ax.get_xlabel()) == (error_label, LATENCY[1])
        points = {(x, y) for line in ax.get_lines() for x, y in zip(*line.get_data())}
        assert points == {(r[LATENCY[0]], errors[r['zoo_name']][error]) for r in latency}
        assert {l.get_label() for l in ax.get_lines()} == {
            '%s-56' % FAMILIES[f].paper_name for f in FAMILIES}


@pytest.mark.parametrize('with_table5', [True, False])
def test_plot_script_writes_png_with_its_command(with_table5, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'fig.png'
    table5_csv = TABLE5_CSV if with_table5 else str(tmp_path / 'missing.csv')
    args = ['--table3', TABLE3_CSV, '--table5', table5_csv, '--out', str(out)]
    monkeypatch.setattr(sys, 'argv', ['experiments/plot_tradeoff.py'] + args)
    runpy.run_path(os.path.join(ROOT, 'experiments', 'plot_tradeoff.py'), run_name='__main__')
    image = Image.open(str(out))
    assert image.format == 'PNG' and image.size == ((1860, 1020) if with_table5 else (1320, 1020))
    description = image.info['Description']
    assert 'plot_tradeoff.py --table3 %s --table5 %s --out %s' % (
        TABLE3_CSV, table5_csv, out) in description
    missing = 'No CPU-time panels: %s does not exist (`make table5` writes it).' % table5_csv
    if with_table5:
        machine = table5.read_csv(TABLE5_CSV)[0]['machine']
        assert 'measured on: %s.' % machine in description and missing not in description
    else:
        assert missing in description and missing in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ['fig.png']  # no temporary file left behind
