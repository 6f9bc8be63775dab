"""The machine description every timing file carries: CPU model and vector ISA, threads,
MXNet build, context."""
import os

import mxnet as mx
import onnxruntime
import pytest

from gluon_pydmn.cpu import engine_threads
from gluon_pydmn.machine import machine_info, machine_line


@pytest.mark.parametrize('flags, isa', [('fpu sse4_2 avx avx2 fma', 'AVX2'),
                                        ('avx avx2 avx512f avx512bw', 'AVX2, AVX-512'),
                                        ('fpu sse4_2 avx', 'no AVX2')])
def test_machine_line(flags, isa, tmp_path, monkeypatch):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('processor\t: 0\nmodel name\t: Intel(R) Core(TM) i7-4770 CPU @ 3.40GHz\n'
                       'flags\t\t: %s\n\nprocessor\t: 1\nmodel name\t: other\n' % flags)
    monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
    info = machine_info(mx.cpu(), cpuinfo=str(cpuinfo))
    assert info['gpu'] is None and info['mkldnn'] and not info['cuda']
    assert info['omp_threads'] == engine_threads() > 0
    assert machine_line(dict(info, omp_threads=3)) == (
        'Intel(R) Core(TM) i7-4770 CPU @ 3.40GHz (%s), %d cores, 3 OpenMP threads; MXNet %s '
        '(MKL-DNN on, CUDA off), ONNX Runtime %s; context cpu(0)'
        % (isa, os.cpu_count(), mx.__version__, onnxruntime.__version__))
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX2')
    info = dict(machine_info(mx.cpu(), cpuinfo=str(cpuinfo)), gpu='GeForce GTX 750 Ti',
                ctx='gpu(0)', onnxruntime=None)  # as machine_info gives it on a GPU context
    assert machine_line(info).endswith(
        ', DNNL_MAX_CPU_ISA=AVX2; GPU GeForce GTX 750 Ti; MXNet %s (MKL-DNN on, CUDA off); '
        'context gpu(0)' % mx.__version__)


def test_machine_info_reads_this_machine():
    info = machine_info(mx.cpu())
    with open('/proc/cpuinfo') as f:
        model = next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    assert info['cpu'] == model and info['cores'] == os.cpu_count()
    assert info['mxnet'] == mx.__version__ and info['ctx'] == 'cpu(0)'
