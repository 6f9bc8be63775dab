"""The benchmark helpers on a small model: rows carry real timings and checked logits."""
import mxnet as mx
import pytest

import gluon_pydmn as g
from gluon_pydmn.catalog import ModelCfg
from gluon_pydmn.reproduce import benchmark
from gluon_pydmn.reproduce.machine import machine_info, machine_line
from gluon_pydmn.reproduce.timing import ratio_quartiles, time_rounds


@pytest.fixture(scope='module')
def training(release_root):
    return benchmark.training_rows([('pydmobilenet_concat', 29, 0.25), ('mobilenet', 29, 0.75)],
                                   release_root, batch_size=4, repeats=1,
                                   reference=('mobilenet', 29, 1))


@pytest.fixture(scope='module')
def inference(release_root, cifar10_test):
    images = g.data.normalize_images(cifar10_test.images[:128])  # the report's batch
    return benchmark.inference_rows([ModelCfg('pydmobilenet_add', 29, 0.5).name], images,
                                    release_root, batch_sizes=(128, 1), repeats=(1, 1))


def test_training_rows_time_ours_and_the_authors_graph(training):
    rows = training
    assert [r['model'] for r in rows] == ['pydmobilenet_concat_29_0.25', 'mobilenet_29_0.75']
    assert rows[0]['mmacs'] * 1e6 == g.count_flops(g.get_cifar_net('pydmobilenet_concat', 29, 0.25))
    assert rows[0]['ours_s'] > 0 and rows[0]['authors_s'] > 0
    assert rows[1]['authors_s'] is None  # not in the zoo: no released graph to compare with
    assert all(r['reference_s'] > 0 for r in rows)  # timed in each row's rounds
    assert rows[0]['reference_mmacs'] * 1e6 == g.count_flops(g.get_cifar_net('mobilenet', 29, 1))
    median, q1, q3 = rows[0]['ours_vs_authors']
    assert 0 < q1 <= median <= q3 and rows[1]['ours_vs_authors'] is None
    assert all(0 < r['per_mac_vs_reference'][1] <= r['per_mac_vs_reference'][2] for r in rows)


def test_inference_rows_check_logits_before_timing(inference):
    (row,) = inference
    assert row['deploy_max_diff'] <= 1e-4 and row['onnx_max_diff'] <= 1e-4
    for contender in ('authors', 'deploy', 'onnx'):
        assert row['%s_ms_b128' % contender] > 0 and row['%s_ms_b1' % contender] > 0
    for key in ('deploy_speedup_b128', 'onnx_speedup_b1'):
        median, q1, q3 = row[key]
        assert 0 < q1 <= median <= q3


def test_ratio_quartiles_pair_rounds():
    # round i of one contender against round i of the other, not the ratio of the medians
    assert ratio_quartiles([2.0, 4.0, 8.0, 16.0, 32.0], [1.0, 2.0, 4.0, 8.0, 16.0]) == (2.0, 2.0, 2.0)
    assert ratio_quartiles([1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5) == (3.0, 2.0, 4.0)
    calls = []
    times = time_rounds({'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')},
                        repeats=3, warmup=1)
    assert calls == ['a', 'b'] * 4 and [len(t) for t in times.values()] == [3, 3]


def test_report_names_the_machine_and_has_a_row_per_network(training, inference):
    machine = machine_line(machine_info(mx.cpu()))
    text = benchmark.to_markdown({'cpu': {'OMP_NUM_THREADS': '2'}, 'rows': training}, inference,
                                 {}, 'mobilenet_29_1', 'python experiments/benchmark.py', machine)
    assert 'Machine: %s.' % machine in text
    assert ', '.join(machine_info(mx.cpu())['isa']) in text  # AVX2 / AVX-512: the ISA matters
    lines = text.splitlines()
    for section, names in (('## Training step', [r['model'] for r in training]),
                           ('## Inference, batch 128', [r['model'] for r in inference]),
                           ('## Inference latency, batch 1', [r['model'] for r in inference])):
        start = lines.index(next(l for l in lines if l.startswith(section)))
        rows = [l for l in lines[start + 1:] if l.startswith('| ') and 'model' not in l]
        assert [r.split(' | ')[0][2:] for r in rows[:len(names)]] == names
    assert '## Training step' not in benchmark.to_markdown(None, inference, {}, 'mobilenet_29_1',
                                                           'cmd', machine)
