"""The machine a timing ran on, described for every published table and figure.

Timings from different machines are not comparable (the CPUs here vary between AVX2 and
AVX-512), so every timing file carries :func:`machine_line` of :func:`machine_info`, and
every training epoch's wall time is recorded with the machine that ran it.
"""
import os
import platform
import subprocess

import mxnet as mx

from .cpu import engine_threads

__all__ = ['machine_info', 'machine_line']

_ISA_FLAGS = (('avx2', 'AVX2'), ('avx512f', 'AVX-512'))


def _cpu_model_and_flags(cpuinfo='/proc/cpuinfo'):
    model, flags = None, set()
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name' and model is None:
                    model = value.strip()
                elif key.strip() == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model or platform.processor() or 'unknown CPU', flags


def _gpu_name(device_id):
    try:
        out = subprocess.run(['nvidia-smi', '--query-gpu=name', '--format=csv,noheader',
                              '-i', str(device_id)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 'unknown GPU'
    return out.stdout.strip() or 'unknown GPU'


def machine_info(ctx, cpuinfo='/proc/cpuinfo', onnx=True):
    """What the timings depend on: CPU model and vector ISA, cores, OpenMP threads, MXNet
    version and build, the context and, on a GPU context, the GPU's name.

    Parameters
    ----------
    ctx : Context
        The context the timings ran on.
    cpuinfo : str, default '/proc/cpuinfo'
        Where the CPU model and flags are read.
    onnx : bool, default True
        Record ONNX Runtime's version on a CPU context; False for timings it takes no part
        in, such as training.

    Returns
    -------
    dict
        Keys ``cpu``, ``isa`` (list, e.g. ``['AVX2', 'AVX-512']``), ``cores``,
        ``omp_threads`` (the threads MXNet's engine runs a CPU operator with,
        :func:`~gluon_pydmn.cpu.engine_threads`; None on a GPU context),
        ``dnnl_max_cpu_isa``, ``mxnet``, ``mkldnn``, ``cuda``, ``onnxruntime`` (its version;
        None on a GPU context or with ``onnx=False``), ``ctx``, ``gpu`` (its name; None on a
        CPU context).
    """
    model, flags = _cpu_model_and_flags(cpuinfo)
    features = mx.runtime.Features()
    onnxruntime = None
    if onnx and ctx.device_type == 'cpu':
        import onnxruntime as ort
        onnxruntime = ort.__version__
    return {'cpu': model, 'isa': [name for flag, name in _ISA_FLAGS if flag in flags],
            'cores': os.cpu_count(),
            'omp_threads': engine_threads() if ctx.device_type == 'cpu' else None,
            'dnnl_max_cpu_isa': os.environ.get('DNNL_MAX_CPU_ISA'), 'mxnet': mx.__version__,
            'mkldnn': features.is_enabled('MKLDNN'), 'cuda': features.is_enabled('CUDA'),
            'onnxruntime': onnxruntime, 'ctx': str(ctx),
            'gpu': _gpu_name(ctx.device_id) if ctx.device_type == 'gpu' else None}


def machine_line(info):
    """One line describing :func:`machine_info`'s ``info``, for tables and figures."""
    on = lambda flag: 'on' if flag else 'off'
    text = '%s (%s), %s cores' % (info['cpu'], ', '.join(info['isa']) or 'no AVX2',
                                  info['cores'])
    if info.get('omp_threads'):
        text += ', %s OpenMP threads' % info['omp_threads']
    if info.get('dnnl_max_cpu_isa'):
        text += ', DNNL_MAX_CPU_ISA=%s' % info['dnnl_max_cpu_isa']
    if info.get('gpu'):
        text += '; GPU %s' % info['gpu']
    text += '; MXNet %s (MKL-DNN %s, CUDA %s)' % (info['mxnet'], on(info['mkldnn']),
                                                  on(info['cuda']))
    if info.get('onnxruntime'):
        text += ', ONNX Runtime %s' % info['onnxruntime']
    return text + '; context %s' % info['ctx']
