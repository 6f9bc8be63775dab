"""CPU switches for MXNet 1.x with MKL-DNN that decide how fast these networks run.

Both must be set before MXNet runs its first operator (setting them after ``import mxnet``
is fine); :func:`configure_cpu` does that.

* ``OMP_NUM_THREADS``: MXNet keeps one core for its engine and so runs a single OpenMP thread
  on a 2-core machine unless this is set: half the speed.
* ``DNNL_MAX_CPU_ISA=AVX2``: on AVX-512 CPUs MKL-DNN stores tensors in 16-channel blocks, but
  in 8-channel blocks where a layer has a channel count that is not a multiple of 16 (8, 24,
  40 ... inner channels: alpha = 0.25, 0.75, the Concat pyramid's 3m). A BatchNorm whose input
  and gradient then arrive in different blockings runs MKL-DNN's reference backward kernel,
  about 190 ms a call instead of under 2 ms, which made narrow MobileNets and every
  PydMobileNet 4-11x slower to train per multiply-accumulate. Capping MKL-DNN at AVX2 gives
  one blocking everywhere. It helps training on AVX-512 machines, changes nothing on AVX2
  ones, and is mixed for inference, so it is a training setting.
"""
import os
import warnings

__all__ = ['configure_cpu', 'mxnet_has_run']

_SWITCHES = ('OMP_NUM_THREADS', 'DNNL_MAX_CPU_ISA')


def configure_cpu(threads=None, training=True):
    """Set the MXNet/MKL-DNN CPU switches (environment variables not already set).

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
    late = [k for k in _SWITCHES if now[k] != before[k]]
    if late and mxnet_has_run():
        warnings.warn('configure_cpu() was called after MXNet ran its first operator, so %s '
                      'cannot take effect in this process: call it first, before building or '
                      'running any network' % ' and '.join('%s=%s' % (k, now[k]) for k in late),
                      stacklevel=2)
    return now


def mxnet_has_run():
    """Whether MXNet has run in this process: an NDArray exists (a network's parameters, a
    batch), so its engine has started and fixed its OpenMP and MKL-DNN settings."""
    import gc
    import sys
    mx = sys.modules.get('mxnet')
    if mx is None:
        return False
    return any(isinstance(o, mx.nd.NDArray) for o in gc.get_objects())
