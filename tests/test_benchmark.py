"""The benchmark helpers on a small model: rows carry real timings and checked logits."""
import gluon_pydmn as g
from gluon_pydmn.catalog import ModelCfg
from gluon_pydmn.reproduce import benchmark
from gluon_pydmn.reproduce.timing import ratio_quartiles, time_rounds


def test_training_rows_time_ours_and_the_authors_graph(release_root):
    rows = benchmark.training_rows([('pydmobilenet_concat', 29, 0.25), ('mobilenet', 29, 0.75)],
                                   release_root, batch_size=4, repeats=1,
                                   reference=('mobilenet', 29, 1))
    assert [r['model'] for r in rows] == ['pydmobilenet_concat_29_0.25', 'mobilenet_29_0.75']
    assert rows[0]['mmacs'] * 1e6 == g.count_flops(g.get_cifar_net('pydmobilenet_concat', 29, 0.25))
    assert rows[0]['ours_s'] > 0 and rows[0]['authors_s'] > 0
    assert rows[1]['authors_s'] is None  # not in the zoo: no released graph to compare with
    assert all(r['reference_s'] > 0 for r in rows)  # timed in each row's rounds
    assert rows[0]['reference_mmacs'] * 1e6 == g.count_flops(g.get_cifar_net('mobilenet', 29, 1))
    median, q1, q3 = rows[0]['ours_vs_authors']
    assert 0 < q1 <= median <= q3 and rows[1]['ours_vs_authors'] is None
    assert all(0 < r['per_mac_vs_reference'][1] <= r['per_mac_vs_reference'][2] for r in rows)


def test_inference_rows_check_logits_before_timing(release_root, cifar10_test):
    images = g.data.normalize_images(cifar10_test.images[:8])
    (row,) = benchmark.inference_rows([ModelCfg('pydmobilenet_add', 29, 0.5).name], images,
                                      release_root, batch_sizes=(8, 1), repeats=(1, 1))
    assert row['deploy_max_diff'] <= 1e-4 and row['onnx_max_diff'] <= 1e-4
    for contender in ('authors', 'deploy', 'onnx'):
        assert row['%s_ms_b8' % contender] > 0 and row['%s_ms_b1' % contender] > 0
    for key in ('deploy_speedup_b8', 'onnx_speedup_b1'):
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
