"""CPU switches for MXNet 1.x with MKL-DNN that decide how fast these networks run.

:func:`configure_cpu` sets both; call it before MXNet runs its first operator.

* OpenMP threads. MXNet fixes its thread policy when ``libmxnet`` is loaded (at
  ``import mxnet``): unless ``OMP_NUM_THREADS`` was in the environment then, the engine's CPU
  worker runs every operator with half the cores' threads, a single one on a 2-core machine:
  half the speed. Setting the variable after ``import mxnet`` changes nothing, so
  :func:`configure_cpu` also sets the thread count inside the engine's CPU worker thread
  (:func:`set_engine_threads`), and :func:`engine_threads` reports the count in force there,
  which is what the machine line of every timing records.
* ``DNNL_MAX_CPU_ISA=AVX2``: on AVX-512 CPUs MKL-DNN stores tensors in 16-channel blocks, but
  in 8-channel blocks where a layer has a channel count that is not a multiple of 16 (8, 24,
  40 ... inner channels: alpha = 0.25, 0.75, the Concat pyramid's 3m). A BatchNorm whose input
  and gradient then arrive in different blockings runs MKL-DNN's reference backward kernel,
  about 190 ms a call instead of under 2 ms, which made narrow MobileNets and every
  PydMobileNet 4-11x slower to train per multiply-accumulate. Capping MKL-DNN at AVX2 gives
  one blocking everywhere. It helps training on AVX-512 machines, changes nothing on AVX2
  ones, and is mixed for inference, so it is a training setting. MKL-DNN reads it when it
  creates its first primitive, so it must be set before MXNet's first operator.
"""
import ctypes
import os
import warnings

import mxnet as mx
from mxnet.base import _LIB, check_call

__all__ = ['configure_cpu', 'engine_threads', 'set_engine_threads', 'mxnet_has_run']

_SWITCHES = ('OMP_NUM_THREADS', 'DNNL_MAX_CPU_ISA')


def configure_cpu(threads=None, training=True):
    """Set the MXNet/MKL-DNN CPU switches (environment variables not already set), and run
    MXNet's CPU engine with ``OMP_NUM_THREADS`` threads.

    Parameters
    ----------
    threads : int, optional
        OpenMP threads; default all cores.
    training : bool, default True
        Also cap MKL-DNN at AVX2 (``DNNL_MAX_CPU_ISA``), see the module notes.

    Returns
    -------
    dict
        The values now in force.
    """
    before = {k: os.environ.get(k) for k in _SWITCHES}
    os.environ.setdefault('OMP_NUM_THREADS', str(threads or os.cpu_count() or 1))
    if training:
        os.environ.setdefault('DNNL_MAX_CPU_ISA', 'AVX2')
    now = {k: os.environ.get(k) for k in _SWITCHES}
    if now['DNNL_MAX_CPU_ISA'] != before['DNNL_MAX_CPU_ISA'] and mxnet_has_run():
        warnings.warn('configure_cpu() was called after MXNet ran its first operator, so '
                      'DNNL_MAX_CPU_ISA=%s cannot take effect in this process: call it first, '
                      'before building or running any network' % now['DNNL_MAX_CPU_ISA'],
                      stacklevel=2)
    set_engine_threads(int(now['OMP_NUM_THREADS']))
    return now


_ENGINE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class _Context(ctypes.Structure):
    """MXNet's C++ ``Context``: what the engine's C API takes for a device."""
    _fields_ = [('dev_type', ctypes.c_int), ('dev_id', ctypes.c_int)]


def _openmp():
    """The OpenMP runtime MXNet's pip builds link (libgomp) as loaded with ``libmxnet``, or None
    where MXNet runs another runtime (then no libgomp is loaded in the process)."""
    try:
        return ctypes.CDLL('libgomp.so.1', mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return None


def _in_cpu_worker(fn, device_id=0):
    """Run ``fn()`` in the thread where MXNet's engine runs CPU operators of ``cpu(device_id)``
    (the calling thread under MXNet's NaiveEngine), wait for it and return its result."""
    result = []
    callback = _ENGINE_FN(lambda run_context, param: result.append(fn()))
    context = _Context(1, device_id)  # 1: MXNet's kCPU
    check_call(_LIB.MXEnginePushSync(callback, None, None, ctypes.byref(context), None, 0, None,
                                     0, None, 0, ctypes.c_char_p(b'gluon_pydmn_openmp')))
    mx.nd.waitall()
    return result[0]


def set_engine_threads(threads, device_id=0):
    """Run MXNet's CPU operators (of ``cpu(device_id)``) with ``threads`` OpenMP threads.

    This is what ``OMP_NUM_THREADS`` does when it is in the environment before
    ``import mxnet``, at any time later: the setting goes into the engine's CPU worker thread,
    which runs the operators. Does nothing where MXNet's OpenMP runtime is not libgomp.
    """
    openmp = _openmp()
    if openmp is None:
        return
    check_call(_LIB.MXSetNumOMPThreads(ctypes.c_int(threads)))  # the calling thread
    _in_cpu_worker(lambda: openmp.omp_set_num_threads(threads), device_id)


def engine_threads(device_id=0):
    """The OpenMP threads MXNet's engine runs a CPU operator (of ``cpu(device_id)``) with, as
    its CPU worker thread sees it; None where MXNet's OpenMP runtime is not libgomp."""
    openmp = _openmp()
    return None if openmp is None else _in_cpu_worker(openmp.omp_get_max_threads, device_id)


def mxnet_has_run():
    """Whether MXNet has run in this process: an NDArray exists (a network's parameters, a
    batch), so MKL-DNN may have fixed its instruction set."""
    import gc
    return any(isinstance(o, mx.nd.NDArray) for o in gc.get_objects())
