"""The benchmark helpers on a small model: rows carry real timings and checked logits."""
import gluon_pydmn as g
from gluon_pydmn import benchmark
from gluon_pydmn.model_zoo import ModelCfg


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


def test_inference_rows_check_logits_before_timing(release_root, cifar10_test):
    images = g.data.normalize_images(cifar10_test.images[:8])
    (row,) = benchmark.inference_rows([ModelCfg('pydmobilenet_add', 29, 0.5).name], images,
                                      release_root, batch_sizes=(8, 1), repeats=(1, 1))
    assert row['deploy_max_diff'] <= 1e-4 and row['onnx_max_diff'] <= 1e-4
    for contender in ('authors', 'deploy', 'onnx'):
        assert row['%s_ms_b8' % contender] > 0 and row['%s_ms_b1' % contender] > 0
