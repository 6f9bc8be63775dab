"""The paper's Figure 2 and the index of training runs, drawn from real (small) run folders."""
import os

import numpy as np
import pytest
from PIL import Image

from gluon_pydmn.catalog import display_name
from gluon_pydmn.commands import figure2 as plot_figure2, runs as index_runs, train as train_script
from gluon_pydmn.reproduce.figure2 import plot_training_curves
from gluon_pydmn.reproduce.run_index import runs_markdown
from gluon_pydmn.run_folder import Caveat, RunFolder

from conftest import reset_input_batchnorm


@pytest.fixture(scope='module')
def two_runs(data_root, tmp_path_factory):
    """A GluonCV ResNet and a PydMobileNet, 2 epochs on 128 images, compressed schema."""
    root = tmp_path_factory.mktemp('runs')
    folders = []
    for model in ('cifar_resnet20_v1', 'pydmobilenet_concat_29_0.25'):
        folders.append(str(root / model))
        train_script.main(['--model', model, '--data-root', data_root, '--out', folders[-1],
                           '--schedule-scale', '0.00625', '--batch-size', '64',
                           '--limit-train', '128', '--limit-test', '300', '--no-progress'])
    return folders


def _legend(fig):
    """The figure's one legend, entry by entry."""
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def test_display_names():
    assert display_name('pydmobilenet_concat_56_0.25') == 'PydMobileNet-Concat-56-0.25'
    assert display_name('cifar_resnet110_v2') == 'ResNet-110 (pre-activation, GluonCV)'
    assert display_name('cifar_resnet20_v1') == 'ResNet-20 (GluonCV)'


def test_curves_are_the_runs_histories_with_names_params_and_schema(two_runs):
    fig = plot_training_curves(two_runs, footer='made by a test')
    loss_ax, error_ax = fig.axes
    runs = [(RunFolder(f).record(), RunFolder(f).history()) for f in two_runs]
    for ax, column in ((loss_ax, 'train_loss'), (error_ax, 'test_error')):
        assert len(ax.lines) == 2
        for line, (run, history) in zip(ax.lines, runs):
            assert list(line.get_xdata()) == [1, 2]
            assert np.allclose(line.get_ydata(), [r[column] for r in history])
    assert loss_ax.get_legend() is None and error_ax.get_legend() is None  # one, below both
    assert _legend(fig) == ['ResNet-20 (GluonCV) (0.272M params)',
                            'PydMobileNet-Concat-29-0.25 (0.093M params)']
    caption = ' '.join(t.get_text() for t in fig.texts).replace('\n', ' ')
    assert caption.count("the paper's schema compressed to 0.00625 of its length (2 epochs") == 2
    assert 'made by a test' in caption and '128 training images' in caption


def test_paper_errors_are_dotted_lines_in_each_runs_colour(two_runs):
    fig = plot_training_curves(two_runs, paper_error=lambda model, labels: (
        {'cifar_resnet20_v1': 7.3, 'pydmobilenet_concat_29_0.25': 7.33}[model]))
    loss_ax, error_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(error_ax.lines) == 4
    curves, paper = error_ax.lines[:2], error_ax.lines[2:]  # the paper's lines after the runs
    for curve, line, value in zip(curves, paper, (7.3, 7.33)):
        assert list(line.get_ydata()) == [value, value] and line.get_linestyle() == ':'
        assert line.get_color() == curve.get_color()
    labels = _legend(fig)
    assert labels[2] == "paper: 7.30% (quoted from GluonCV's model zoo)"
    assert labels[3] == 'paper: 7.33% (full 320-epoch schema)'
    caption = ' '.join(t.get_text() for t in fig.texts).replace('\n', ' ')
    assert "The paper: 7.30% (quoted from GluonCV's model zoo; dotted line)." in caption


def test_runs_of_one_network_are_told_apart_by_seed_then_folder(two_runs, tmp_path):
    import json
    import shutil
    folders = [two_runs[1]]
    for folder in ('seed3', 'seed3-again'):
        shutil.copytree(two_runs[1], tmp_path / folder)
        with open(tmp_path / folder / 'run.json') as f:
            run = json.load(f)
        run['config']['seed'] = 3
        with open(tmp_path / folder / 'run.json', 'w') as f:
            json.dump(run, f)
        folders.append(str(tmp_path / folder))
    fig = plot_training_curves(folders + [two_runs[0]], paper_error=lambda model, labels: 7.33)
    loss_ax, error_ax = fig.axes
    assert _legend(fig)[:4] == [
        'PydMobileNet-Concat-29-0.25, seed 0 (0.093M params)',
        'PydMobileNet-Concat-29-0.25, seed3 (0.093M params)',
        'PydMobileNet-Concat-29-0.25, seed3-again (0.093M params)',
        'ResNet-20 (GluonCV) (0.272M params)']
    paper = [line for line in error_ax.lines if line.get_linestyle() == ':']
    assert len(paper) == 2  # one line for the three PydMobileNet runs, one for ResNet-20
    assert paper[0].get_color() == 'black'
    assert paper[1].get_color() == loss_ax.lines[3].get_color() != 'black'
    caption = ' '.join(t.get_text() for t in fig.texts).replace('\n', ' ')
    assert 'PydMobileNet-Concat-29-0.25, seed3-again on cifar10' in caption


def test_more_runs_than_colours_are_all_drawn(two_runs):
    fig = plot_training_curves(two_runs * 4)
    assert [len(ax.lines) for ax in fig.axes] == [8, 8]


@pytest.mark.parametrize('copies', [1, 4])
def test_axes_legend_and_caption_stack_without_overlap(two_runs, copies):
    """The legend sits under both axes (tick labels included) and the caption under it, all
    inside the figure, however many runs and caption lines there are."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig = plot_training_curves(two_runs * copies, footer='made by a test ' * 40,
                               paper_error=lambda model, labels: 7.33)
    renderer = FigureCanvasAgg(fig).get_renderer()
    axes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    (legend,) = fig.legends
    legend_box = legend.get_window_extent(renderer)
    (caption,) = fig.texts
    caption_box = caption.get_window_extent(renderer)
    assert all(legend_box.y1 < box.y0 for box in axes)
    assert caption_box.y1 < legend_box.y0 and caption_box.y0 >= 0
    assert max(box.y1 for box in axes) <= fig.bbox.y1


def test_figure2_script_writes_a_png_with_its_command(two_runs, tmp_path):
    out = str(tmp_path / 'figure2.png')
    plot_figure2.main(['--runs'] + two_runs + ['--out', out])
    image = Image.open(out)
    assert image.format == 'PNG' and image.size[0] > 1000
    assert 'gluon-pydmn figure2 --runs' in image.info['Description']
    assert [n for n in os.listdir(tmp_path) if n != 'figure2.png'] == []


def test_error_range_sets_the_test_error_axis_only(two_runs):
    default = plot_training_curves(two_runs)
    zoomed = plot_training_curves(two_runs, error_range=(6, 12))
    assert default.axes[1].get_ylim()[0] == 0 and default.axes[1].get_ylim()[1] > 12
    assert zoomed.axes[1].get_ylim() == (6, 12)
    assert zoomed.axes[0].get_ylim() == default.axes[0].get_ylim()


@pytest.mark.parametrize('error_range', [(12, 6), (5, 5), (-1, 10)])
def test_error_range_must_be_low_then_high_percent(two_runs, error_range, tmp_path, capsys):
    with pytest.raises(ValueError, match='0 <= low < high'):
        plot_training_curves(two_runs, error_range=error_range)
    with pytest.raises(SystemExit) as exit_info:
        plot_figure2.main(['--runs'] + two_runs + ['--out', str(tmp_path / 'x.png'),
                           '--error-range'] + [str(v) for v in error_range])
    assert exit_info.value.code == 2
    assert '--error-range takes LOW HIGH' in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_figure2_script_draws_the_error_range_it_is_given(two_runs, tmp_path):
    out = str(tmp_path / 'zoom.png')
    plot_figure2.main(['--runs'] + two_runs + ['--out', out, '--error-range', '6', '12'])
    assert '--error-range 6 12' in Image.open(out).info['Description']


def test_figure2_script_names_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match='holds no run'):
        plot_figure2.main(['--runs', str(tmp_path), '--out', str(tmp_path / 'x.png')])


def test_training_index_lists_every_run_with_last_and_best_error(two_runs, tmp_path):
    table = runs_markdown(two_runs + [str(tmp_path)],
                          paper_error=lambda model, labels: 9.99 if 'pyd' in model else None)
    rows = [line for line in table.splitlines() if line.startswith('| ') and 'run folder' not in line]
    assert len(rows) == 2  # the empty folder is no run
    for row, folder in zip(rows, two_runs):
        history = RunFolder(folder).history()
        best = min(history, key=lambda r: r['test_error'])
        assert row.startswith('| %s | ' % os.path.basename(folder))
        assert '| 2 of 2 | %.2f | %.2f (epoch %d) |' % (
            history[-1]['test_error'], best['test_error'], best['epoch']) in row
    assert rows[1].endswith('| 9.99 |') and rows[0].endswith('|  |')
    out = str(tmp_path / 'README.md')
    index_runs.main(['--root', os.path.dirname(two_runs[0]), '--out', out])
    with open(out) as f:
        text = f.read()
    assert 'Generated by `gluon-pydmn runs --root ' in text and text.count('| 2 of 2 |') == 2
    paper = [line.rsplit('|', 2)[1].strip() for line in text.splitlines()
             if line.startswith('| ') and '| 2 of 2 |' in line]
    assert paper == ['7.30', '7.33']  # Table 3's ResNet-20* (GluonCV) and Concat-29-0.25


def _make_old(folder, stale=None):
    """Rewrite a run folder as the version before run.json recorded command, note and caveats;
    ``stale``: give its history the ``stale_input_bn`` column with these epochs True."""
    import json
    record = json.loads((folder / 'run.json').read_text())
    for key in ('caveats', 'command', 'note', 'test_images'):
        del record[key]
    (folder / 'run.json').write_text(json.dumps(record))
    if stale is not None:
        state = json.loads((folder / 'state.json').read_text())
        for row in state['history']:
            row['stale_input_bn'] = row['epoch'] in stale
        (folder / 'state.json').write_text(json.dumps(state))


@pytest.mark.parametrize('older_than', ['run.json', 'state.json'])
def test_older_runs_are_migrated_from_what_they_recorded(two_runs, tmp_path, older_than):
    """Runs written before run.json are migrated from their state.json; runs written before
    both (no resumable state either) from the first lines of their summary.md and their
    history.csv, and with no weights left, every epoch gets the stale-BatchNorm caveat."""
    import shutil
    from gluon_pydmn.migrate import migrate_run_folder
    old = tmp_path / 'old-run'
    shutil.copytree(two_runs[1], old)
    full_row = [line for line in runs_markdown([two_runs[1]]).splitlines()
                if line.startswith('| pydmobilenet')][0]
    (old / 'run.json').unlink()
    if older_than == 'state.json':
        (old / 'state.json').unlink()
        (old / 'final.params').unlink()
    else:
        with pytest.raises(FileNotFoundError, match='no run.json'):
            runs_markdown([str(old)])
    changes = migrate_run_folder(str(old))
    assert changes[0] == 'run.json written'
    row = [line for line in runs_markdown([str(old)]).splitlines() if line.startswith('| old-run')]
    assert len(row) == 1
    assert row[0].startswith('| old-run | PydMobileNet-Concat-29-0.25 | cifar10 | 128 | '
                             "the paper's schema compressed to 0.00625 of its length (2 epochs")
    if older_than == 'run.json':  # state.json still says everything
        assert row[0] == full_row.replace('| pydmobilenet_concat_29_0.25 |', '| old-run |')
        assert RunFolder(old).record()['params'] == RunFolder(two_runs[1]).record()['params']
    else:
        assert row[0].count('†') == 2 and '| 2 of 2 |' in row[0]
        assert [r['test_error'] for r in RunFolder(old).history()] == pytest.approx(
            [r['test_error'] for r in RunFolder(two_runs[1]).history()])
    assert 'compressed to 0.00625' in (old / 'summary.md').read_text()


def test_finished_runs_from_before_the_input_batchnorm_fix_are_marked(two_runs, tmp_path):
    """A finished run written before the ``stale_input_bn`` column, whose final weights still
    have the input BatchNorm's initial statistics: migrated, every epoch is marked in the run
    index and the figure caption. The same run with trained statistics is not."""
    import shutil
    from gluon_pydmn.migrate import migrate_run_folder
    old, clean = tmp_path / 'pre-fix', tmp_path / 'clean'
    for folder in (old, clean):
        shutil.copytree(two_runs[1], folder)
        _make_old(folder)
    reset_input_batchnorm(old / 'final.params')
    migrate_run_folder(str(old)), migrate_run_folder(str(clean))
    assert [(c.first, c.last) for c in RunFolder(old).caveats()] == [(1, 2)]
    assert RunFolder(clean).caveats() == []
    table = runs_markdown([str(old), str(clean)])
    stale_row, clean_row = [l for l in table.splitlines() if l.startswith('| ') and 'folder' not in l]
    assert stale_row.count('†') == 2 and '†' not in clean_row
    assert ('† Some epochs of pre-fix were tested with the input BatchNorm still at its initial '
            'statistics') in table
    caption = ' '.join(t.get_text() for t in plot_training_curves([str(old)]).texts)
    assert 'Epochs 1-2 were tested with the input BatchNorm still at its initial statistics' \
        in caption.replace('\n', ' ')


def test_a_history_column_of_stale_epochs_becomes_a_caveat(two_runs, tmp_path):
    import shutil
    from gluon_pydmn.migrate import migrate_run_folder
    old = tmp_path / 'column'
    shutil.copytree(two_runs[1], old)
    _make_old(old, stale={1})
    with pytest.raises(FileNotFoundError, match='python -m gluon_pydmn.migrate'):
        RunFolder(old).history()
    migrate_run_folder(str(old))
    assert [(c.first, c.last) for c in RunFolder(old).caveats()] == [(1, 1)]
    assert RunFolder(old).history() == RunFolder(two_runs[1]).history()
    assert RunFolder(old).result()['best_epoch'] == 2


def test_reports_are_rebuilt_from_the_run_record_and_state(two_runs, tmp_path):
    """summary.md, history.csv and history.png derive from run.json and state.json: damaged
    or stale, they are written again exactly."""
    import shutil
    from gluon_pydmn.run_report import write_reports
    run = tmp_path / 'run'
    shutil.copytree(two_runs[1], run)
    before = {name: (run / name).read_bytes() for name in ('summary.md', 'history.csv')}
    (run / 'summary.md').write_text('1 of 2 epochs done')
    (run / 'history.csv').write_text('epoch\n1\n')
    (run / 'history.png').unlink()
    write_reports(str(run))
    assert {name: (run / name).read_bytes() for name in before} == before
    assert (run / 'history.png').stat().st_size > 1000


@pytest.mark.parametrize('stale_epochs', [[1], [1, 2]])
def test_test_errors_of_stale_epochs_are_drawn_faded(two_runs, tmp_path, stale_epochs):
    """Epochs tested with a stale input BatchNorm: their test errors are a faded curve of the
    run's colour, the valid ones a full one that carries the legend entry (the faded one when
    no epoch is valid); the training loss is one curve, as training was not affected."""
    import json
    import shutil
    run = tmp_path / 'run'
    shutil.copytree(two_runs[1], run)
    record = json.loads((run / 'run.json').read_text())
    record['caveats'] = [Caveat(stale_epochs[0], stale_epochs[-1], 'tested badly.').to_dict()]
    (run / 'run.json').write_text(json.dumps(record))
    rows = RunFolder(run).history()
    fig = plot_training_curves([str(run)], paper_error=lambda model, labels: 7.33)
    loss_ax, error_ax = fig.axes
    assert len(loss_ax.lines) == 1 and list(loss_ax.lines[0].get_xdata()) == [1, 2]
    faded, *rest = error_ax.lines
    assert list(faded.get_xdata()) == stale_epochs and faded.get_alpha() < 1
    assert np.allclose(faded.get_ydata(), [rows[e - 1]['test_error'] for e in stale_epochs])
    valid = [line for line in rest if line.get_linestyle() != ':']
    assert [list(line.get_xdata()) for line in valid] == ([[2]] if stale_epochs == [1] else [])
    assert all(line.get_alpha() is None and line.get_color() == faded.get_color()
               for line in valid)
    labels = _legend(fig)
    assert labels == ['PydMobileNet-Concat-29-0.25 (0.093M params)',
                      'paper: 7.33% (full 320-epoch schema)']
    caption = ' '.join(t.get_text() for t in fig.texts).replace('\n', ' ')
    assert 'Their test-error curve is faded.' in caption


def test_training_index_refuses_a_folder_of_an_older_version_naming_the_fix(two_runs, tmp_path,
                                                                             capsys):
    import shutil
    root = tmp_path / 'runs'
    shutil.copytree(two_runs[1], root / 'old')
    _make_old(root / 'old')
    with pytest.raises(SystemExit):
        index_runs.cli.run(index_runs.main, ['--root', str(root), '--out', str(tmp_path / 'x.md')])
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'python -m gluon_pydmn.migrate %s' % (root / 'old') in err
    assert not (tmp_path / 'x.md').exists()
