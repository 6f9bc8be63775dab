"""The Table 3 pipeline end to end on one model, and its resumable work folder."""
import csv
import json
import os

import pytest

from gluon_pydmn.commands import table3 as reproduce_table3


def test_reproduce_table3_one_model(data_root, release_root, tmp_path, capsys):
    work, out = tmp_path / 'work', tmp_path / 'out'
    args = ['--data-root', data_root, '--weights-root', release_root, '--work-dir', str(work),
            '--out', str(out), '--models', 'mobilenet_29_0.5', '--batch-size', '500',
            '--no-progress']
    reproduce_table3.main(args)
    with open(out / 'table3.csv') as f:
        rows = {r['zoo_name']: r for r in csv.DictReader(f)}
    row = rows['mobilenet_29_0.5']
    assert row['model'] == 'MobileNet-29-0.5' and int(row['params']) == 79034
    # the paper's numbers are read from the transcription, ours measured on the real test sets
    assert float(row['paper_cifar10_error']) == 8.63 and float(row['paper_cifar100_error']) == 22.59
    # +-0.005 points: one test image is 0.01 points, so these are exact to the image
    assert abs(float(row['delta_cifar10_error'])) <= 0.005
    assert abs(float(row['delta_cifar100_error'])) <= 0.005
    assert float(row['cifar100_fine_error']) > 90 and float(row['cifar100_preds_in_0_19']) == 100
    assert set(rows) == {'mobilenet_29_0.5', 'cifar_resnet20_v1', 'cifar_resnet56_v1'}
    assert int(rows['cifar_resnet20_v1']['params']) > 0
    md = (out / 'table3.md').read_text()
    assert '20 coarse superclasses' in md and '| MobileNet-29-0.5 | mobilenet_29_0.5 |' in md
    assert sorted(os.listdir(work)) == sorted(
        ['mobilenet_29_0.5-cifar10.json', 'mobilenet_29_0.5-cifar100.json',
         'cifar_resnet20_v1-cifar10.json', 'cifar_resnet56_v1-cifar10.json'])
    assert 'Evaluations measured in this run: 4 of 4; the other 0' in md
    # resuming: results saved from the same inputs are used, not recomputed (a doctored result
    # shows through) ...
    saved = work / 'mobilenet_29_0.5-cifar10.json'
    record = json.loads(saved.read_text())
    record['result']['cifar10_error'] = 1.5
    saved.write_text(json.dumps(record))
    reproduce_table3.main(args)
    with open(out / 'table3.csv') as f:
        assert {r['zoo_name']: r for r in csv.DictReader(f)}['mobilenet_29_0.5']['cifar10_error'] == '1.5'
    assert 'Evaluations measured in this run: 0 of 4; the other 4' in (out / 'table3.md').read_text()
    # ... but not when what they depend on changed: here the weights
    record['key'] = 'results of other weights'
    saved.write_text(json.dumps(record))
    reproduce_table3.main(args)
    with open(out / 'table3.csv') as f:
        assert float({r['zoo_name']: r for r in csv.DictReader(f)}['mobilenet_29_0.5'][
            'cifar10_error']) == pytest.approx(8.63, abs=0.005)
    assert 'Evaluations measured in this run: 1 of 4; the other 3' in (out / 'table3.md').read_text()


def test_saved_results_are_keyed_on_code_data_weights_and_batch_size(data_root, release_root,
                                                                     tmp_path, monkeypatch):
    from gluon_pydmn.reproduce import table3
    monkeypatch.setattr(table3, 'GLUONCV_ROWS', {})
    work = str(tmp_path)
    run = lambda **kw: table3.measure(data_root, release_root, work, names=['mobilenet_29_0.5'],
                                      stats=stats, **kw)  # noqa: E731
    stats = {}
    run(batch_size=500)
    assert stats == {'recomputed': 2, 'reused': 0}
    run(batch_size=500)
    assert stats == {'recomputed': 0, 'reused': 2}
    run(batch_size=250)  # another batch size
    assert stats == {'recomputed': 2, 'reused': 0}
    for digest, other in (('code_digest', lambda: 'other code'),
                          ('_params_digest', lambda net: 'other weights'),
                          ('_arrays_digest', lambda *arrays: 'other test images or labels')):
        monkeypatch.setattr(table3, digest, other)
        run(batch_size=250)
        assert stats == {'recomputed': 2, 'reused': 0}, digest
    run(batch_size=250)
    assert stats == {'recomputed': 0, 'reused': 2}


def test_missing_paper_tables_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv('GLUON_PYDMN_PAPER_TABLES', str(tmp_path / 'nowhere.json'))
    with pytest.raises(FileNotFoundError, match='nowhere.json.*GLUON_PYDMN_PAPER_TABLES'):
        reproduce_table3.main(['--out', str(tmp_path)])


def test_table3_error_reads_the_papers_columns():
    from gluon_pydmn.reproduce.paper import load_paper_tables, table3_error
    tables = load_paper_tables()
    assert table3_error(tables, 'PydMobileNet-Concat-56-0.75', 'cifar10') == 4.72
    assert table3_error(tables, 'PydMobileNet-Concat-56-0.75', 'cifar100-coarse') == 14.60
    # the paper's CIFAR-100 column is on the coarse labels: nothing to compare fine labels with
    assert table3_error(tables, 'PydMobileNet-Concat-56-0.75', 'cifar100-fine') is None
    assert table3_error(tables, 'PydMobileNet-Concat-110-1', 'cifar10') is None
