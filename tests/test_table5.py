"""The Table 5 harness: its --ctx option, the no-GPU exit, the machine line, the table written by
gluon-pydmn table5 on real images and weights (tiny repeats), the paper's ranking claims
checked on the paper's own numbers, and deploy forms that stay fused when re-hybridized."""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn import cli
from gluon_pydmn.commands import table5 as table5_script
from gluon_pydmn.deployment import deploy
from gluon_pydmn.reproduce import table3, table5
from gluon_pydmn.machine import machine_info, machine_line
from gluon_pydmn.reproduce.paper import load_paper_tables

from conftest import load_pretrained_quietly

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NO_GPU = ('error: this MXNet build (mxnet %s) has no GPU support; install a CUDA build such as '
          'mxnet-cu112 (pip install mxnet-cu112==%s) to use a GPU'
          % (mx.__version__, mx.__version__))
MODELS = ['mobilenet_56_0.5', 'pydmobilenet_concat_56_0.25']  # given in the other order below


def test_table5_models_are_the_papers_rows():
    paper = load_paper_tables()['table5']
    assert [g.model_zoo.MODEL_CFGS[n].paper_name for n in table5.TABLE5_MODELS] == \
        [r['model'] for r in paper]
    assert len(table5.TABLE5_MODELS) == 11


@pytest.mark.parametrize('text, ctx', [('cpu', mx.cpu()), ('gpu', mx.gpu(0)),
                                       (' GPU:3 ', mx.gpu(3))])
def test_script_takes_one_device(text, ctx):
    assert cli.parse_command(table5_script, ['--ctx', text]).ctx == ctx


@pytest.mark.parametrize('text, message', [
    ('tpu', "expected 'cpu', 'gpu', 'gpu:N' or 'gpu:N,M,...' (distinct GPU ids), got 'tpu'"),
    ('gpu:0,1', "this command runs on one device at a time ('cpu', 'gpu' or 'gpu:N'), got "
                "'gpu:0,1'")])
def test_script_refuses_a_bad_ctx(text, message, capsys):
    with pytest.raises(SystemExit) as e:
        table5_script.main(['--ctx', text])
    assert e.value.code == 2
    assert 'argument --ctx: ' + message in capsys.readouterr().err


@pytest.mark.parametrize('ctx', ['gpu', 'gpu:1'])
def test_no_gpu_build_exits_2_with_one_line_before_loading_anything(ctx, tmp_path, capsys):
    assert not mx.runtime.Features().is_enabled('CUDA')  # this machine's build
    with pytest.raises(SystemExit) as e:  # a data folder that does not exist is never reached
        cli.run(table5_script.main, ['--ctx', ctx, '--data-root', str(tmp_path / 'none'),
                                     '--out', str(tmp_path)])
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [NO_GPU] and captured.out == ''
    assert os.listdir(tmp_path) == []


def test_missing_data_exits_2_with_one_line_naming_the_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(table5_script.main, ['--data-root', str(tmp_path / 'none'),
                                     '--out', str(tmp_path), '--no-progress'])
    assert e.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and str(tmp_path / 'none') in lines[0]
    assert os.listdir(tmp_path) == []


def test_no_gpu_exit_as_a_process(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-m', 'gluon_pydmn', 'table5', '--ctx', 'gpu', '--out',
                           str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [NO_GPU] and proc.stdout == ''
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope='module')
def script_run(data_root, release_root, tmp_path_factory):
    out = tmp_path_factory.mktemp('table5')
    rows = table5_script.main(['--ctx', 'cpu', '--models'] + MODELS[::-1] + [
        '--batch-size', '8', '--repeats', '3', '--warmup', '1', '--out', str(out),
        '--data-root', data_root, '--weights-root', release_root, '--no-progress'])
    return out, rows


def test_script_writes_table5_in_the_papers_layout(script_run):
    out, rows = script_run
    assert sorted(os.listdir(out)) == ['table5-cpu.csv', 'table5-cpu.md']
    csv_rows = table5.read_csv(str(out / 'table5-cpu.csv'))
    assert [r['zoo_name'] for r in csv_rows] == MODELS  # the paper's order
    assert list(csv_rows[0]) == [c.key for c in table5.COLUMNS]
    paper = {r['model']: r for r in load_paper_tables()['table5']}
    ours3 = {r['zoo_name']: r for r in table3.read_csv(os.path.join(ROOT, 'results', 'table3.csv'))}
    machine = machine_line(machine_info(mx.cpu()))
    for row, written in zip(rows, csv_rows):
        p = paper[row['model']]
        assert (written['paper_params_m'], written['paper_flops_m'], written['paper_gpu_ms'],
                written['paper_cpu_ms']) == (p['params_millions'], p['flops_millions'],
                                             p['gpu_ms'], p['cpu_ms'])
        assert written['params'] == ours3[row['zoo_name']]['params']
        assert written['flops_m'] == pytest.approx(ours3[row['zoo_name']]['flops_m'], rel=1e-5)
        assert written['machine'] == machine and written['fusion'] == 'MKLDNN'
        assert (written['batch_size'], written['repeats']) == (8, 3)
        for key, _ in table5.CONTENDERS:
            assert 0 < written[key + '_q1_ms'] <= written[key + '_ms'] <= written[key + '_q3_ms']
            assert written[key + '_max_diff'] <= 1e-4
            assert written[key + '_ms'] == pytest.approx(row[key + '_ms'], rel=1e-5)
        for ratio in ('ours_vs_authors', 'deploy_speedup', 'onnx_speedup'):
            assert 0 < written[ratio + '_q1'] <= written[ratio] <= written[ratio + '_q3']


def test_markdown_names_machine_columns_and_claims(script_run):
    out, rows = script_run
    text = (out / 'table5-cpu.md').read_text()
    assert '**Machine:** %s. One-minute load average ' % rows[0]['machine'] in text
    assert 'batch 8' in text and "The paper's times are for batch 128" in text
    header = next(l for l in text.splitlines() if l.startswith('| Model'))
    assert [c.strip() for c in header.strip('|').split('|')] == [
        'Model', '#params (M)', 'paper', 'FLOPs (M)', 'paper', 'paper GPU (ms)',
        'paper CPU (ms)', "authors' graph (ms)", 'ours (ms)', 'deploy form (ms)',
        'ONNX Runtime (ms)', 'ours / authors', 'deploy speed-up', 'ONNX speed-up',
        'max logit diff', 'fusion']
    line = next(l for l in text.splitlines() if l.startswith('| MobileNet-56-0.5 |'))
    cells = [c.strip() for c in line.strip('|').split('|')]
    r = rows[0]
    assert cells[1:7] == ['%.3f' % r['params_m'], '0.151', '%.1f' % r['flops_m'], '23', '76',
                          '177']
    assert cells[7] == '%.1f (%.1f-%.1f)' % (r['authors_ms'], r['authors_q1_ms'],
                                              r['authors_q3_ms'])
    claims = text.split("## The paper's ranking claims, checked here")[1].strip().splitlines()
    assert [c[:3] for c in claims] == ['1. ', '2. ', '3. ']
    # one MobileNet and one Concat: nothing to interpolate in, said rather than guessed
    assert all('not checked: this run lacks the networks it needs' in c for c in claims[1:])


def _paper_rows():
    """The paper's Table 5 as our rows, its CPU times as 'ours' and GPU times as 'deploy'."""
    rows = []
    for p, name in zip(load_paper_tables()['table5'], table5.TABLE5_MODELS):
        rows.append({'model': p['model'], 'zoo_name': name, 'params_m': p['params_millions'],
                     'flops_m': p['flops_millions'], 'paper_params_m': p['params_millions'],
                     'paper_flops_m': p['flops_millions'], 'paper_cpu_ms': p['cpu_ms'],
                     'paper_gpu_ms': p['gpu_ms'], 'ours_ms': p['cpu_ms'],
                     'deploy_ms': p['gpu_ms']})
    return rows


def test_ranking_claims_on_the_papers_numbers():
    claims = table5.ranking_claims(_paper_rows(), 'paper_cpu_ms')
    # MobileNet-56-1.5 has more FLOPs than ResNet-56-0.5 (63M against 60M): not part of it
    assert [(r['zoo_name'], t, ref) for r, t, ref in claims['mobilenet_vs_resnet']] == [
        ('mobilenet_56_0.5', 177, 202), ('mobilenet_56_1', 261, 202)]
    # Add at 28 MFLOPs: 208 + 9/17 * (252 - 208); at 53: 308 + 1/17 * (378 - 308); 79 is outside
    assert [(r['zoo_name'], t, round(ref, 3)) for r, t, ref in claims['concat_vs_add']] == [
        ('pydmobilenet_concat_56_0.25', 207, 231.294),
        ('pydmobilenet_concat_56_0.5', 306, 312.118)]
    # MobileNet at 0.175M params: 177 + 24/132 * 84; at 0.332M: 261 + 49/133 * 92
    assert [(r['zoo_name'], t, round(ref, 3)) for r, t, ref in claims['concat_vs_mobilenet']] == [
        ('pydmobilenet_concat_56_0.25', 207, 192.273),
        ('pydmobilenet_concat_56_0.5', 306, 294.895)]


def test_claim_sentences_count_each_source():
    first, second, third = table5.claim_sentences(_paper_rows())
    assert first.endswith(
        '1 of 2 with this package\'s network (MobileNet-0.5 177 ms vs ResNet 202 ms, '
        'MobileNet-1 261 ms vs ResNet 202 ms), 2 of 2 in deploy form; in the paper 1 of 2 on '
        'its CPU and 2 of 2 on its GPU. Here the claim holds in part (1 of 2).')
    assert '(Concat-0.25 207 ms vs Add 231 ms, Concat-0.5 306 ms vs Add 312 ms)' in second
    assert second.endswith('2 of 2 in deploy form; in the paper 2 of 2 on its CPU and 2 of 2 on '
                           'its GPU. Here the claim holds.')
    # GPU: Concat-0.5 150 ms against 127.3 ms interpolated is 18% slower, beyond "about as fast"
    assert third.endswith('1 of 2 in deploy form; in the paper 2 of 2 on its CPU and 1 of 2 on '
                          'its GPU. Here the claim holds.')
    slow = [dict(r, ours_ms=2 * r['ours_ms']) if 'mobilenet_56' == r['zoo_name'][:12] else r
            for r in _paper_rows()]
    assert table5.claim_sentences(slow)[0].endswith('Here the claim holds.')
    fast = [dict(r, ours_ms=1.0) if r['zoo_name'].startswith('mobilenet') else r
            for r in _paper_rows()]
    assert table5.claim_sentences(fast)[0].endswith('Here the claim does not hold.')


@pytest.fixture(scope='module')
def concat_net(release_root):
    return load_pretrained_quietly('pydmobilenet_concat_29_0.25', 10, release_root)


def _fused(ops):
    return sum(n for op, n in ops.items() if op.startswith('_sg_mkldnn_conv'))


def test_deploy_form_stays_fused_when_hybridized_again(concat_net, cifar10_test):
    x = g.data.normalize_images(cifar10_test.images[:16])
    expected = concat_net(x).asnumpy()
    fast = deploy(concat_net)
    assert fast(x).shape == expected.shape
    before = fast.graph_ops()
    assert _fused(before) > 0 and 'Convolution' not in before
    for kwargs in ({}, {'static_alloc': False}):  # a user's habit, with or without flags
        fast.hybridize(**kwargs)
        out = fast(x).asnumpy()
        assert fast.graph_ops() == before
        assert np.abs(out - expected).max() <= 1e-4
    fast.hybridize(backend=None)  # asked for explicitly: unfused, which the check sees
    assert np.abs(fast(x).asnumpy() - expected).max() <= 1e-4
    unfused = fast.graph_ops()
    assert _fused(unfused) == 0 and unfused['Convolution'] == before['_sg_mkldnn_conv']
    plain = deploy(concat_net, fuse=False)
    plain.hybridize()
    plain(x)
    assert plain.fusion == 'none' and plain.graph_ops() == unfused


def test_gpu_layout_has_no_onnx_runtime(script_run, tmp_path):
    assert table5.contenders(mx.gpu(0)) == ['authors', 'ours', 'deploy']
    assert table5.contenders(mx.cpu()) == ['authors', 'ours', 'deploy', 'onnx']
    _, rows = script_run
    gpu_rows = [{k: None if k.startswith('onnx') else v for k, v in r.items()} for r in rows]
    header = table5.to_markdown(gpu_rows).splitlines()[0]
    assert 'ONNX' not in header and header.endswith(
        "| authors' graph (ms) | ours (ms) | deploy form (ms) | ours / authors | deploy speed-up "
        "| max logit diff | fusion |")
    path = tmp_path / 'table5-gpu.csv'
    path.write_text(table5.to_csv(gpu_rows))  # every column kept, empty where n/a
    back = table5.read_csv(str(path))
    assert list(back[0]) == [c.key for c in table5.COLUMNS] and back[0]['onnx_ms'] is None
    assert back[0]['deploy_ms'] == pytest.approx(rows[0]['deploy_ms'], rel=1e-5)
    info = dict(machine_info(mx.cpu()), ctx='gpu(0)', gpu='GeForce GTX 750 Ti', onnxruntime=None,
                warmup=1, load=(0.5, 0.5))  # as machine_info gives it on a GPU context
    text = table5.to_document(gpu_rows, info, 'gluon-pydmn table5 --ctx gpu')
    assert text.startswith('# Table 5 on a GPU: inference time, batch 8\n')
    assert '; GPU GeForce GTX 750 Ti;' in text and 'ONNX' not in text


@pytest.mark.parametrize('option, value, message', [
    ('--batch-size', '0', 'expected a whole number of at least 1'),
    ('--repeats', 'x', 'expected a whole number of at least 1'),
    ('--warmup', '-1', 'expected a whole number of at least 0'),
])
def test_script_refuses_bad_options_before_timing(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_command(table5_script, [option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert 'argument %s' % option in err and message in err
    assert cli.parse_command(table5_script, ['--warmup', '0']).warmup == 0
