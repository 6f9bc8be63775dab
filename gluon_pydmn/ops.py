"""The pyramid depthwise convolution as one C++ operator, for fast CPU training.

MKL-DNN (MXNet 1.9) computes the weight gradient of 5x5 and 7x7 depthwise convolutions
through a generic gemm path that costs 10-20x the forward convolution (at 32 channels, 32x32,
batch 128, a 7x7 forward takes about 6 ms, forward plus backward over 100 ms), and MXNet 1.9's
Python custom operators receive arrays held in MKL-DNN's blocked layouts as garbage, so
MKL-DNN's forward cannot be paired with a hand-written gradient from Python.

``pyd_pyramid_depthwise`` (``gluon_pydmn/csrc/depthwise.cc``) therefore computes the whole
pyramid (all branches, summed or concatenated) with forward and backward in C++: direct
vectorised loops over zero-padded planes, OpenMP over planes and channels, float32 and
float64. It is compiled on first use with the system C++ compiler (``$CXX`` or ``g++``) into
the cache folder (``$GLUON_PYDMN_CACHE/ext``) and loaded with :func:`mxnet.library.load`;
``make install`` builds it ahead (:func:`build_extension`). CPU only: on a GPU use
``fast=False`` (cuDNN's depthwise kernels are not affected by the MKL-DNN problem).

The mathematics is unchanged: the operator's outputs and gradients equal those of the
authors' separate branches (``tests/test_fast.py``: every zoo model, float64 and float32).
"""
import hashlib
import os
import shutil
import subprocess
import sysconfig
import threading
import warnings

import mxnet as mx

from .utils import atomic_path, cache_dir

__all__ = ['extension_available', 'build_extension', 'pyramid_depthwise']

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'csrc', 'depthwise.cc')
_lock = threading.Lock()
_state = {'loaded': None, 'error': None}


def _mxnet_dir():
    return os.path.dirname(os.path.abspath(mx.__file__))


def _cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            return next((line for line in f if line.startswith('flags')), '')
    except OSError:
        return ''


def _build_command(output):
    mx_dir = _mxnet_dir()
    cxx = os.environ.get('CXX') or shutil.which('g++') or shutil.which('c++') or 'c++'
    return [cxx, '-shared', '-fPIC', '-O3', '-std=c++17', '-fopenmp', '-march=native',
            '-I', os.path.join(mx_dir, 'include'), _SOURCE,
            os.path.join(mx_dir, 'src', 'lib_api.cc'), '-o', output]


def _library_path():
    """Cache path of the compiled library, keyed by source, MXNet version and compiler line."""
    key = hashlib.sha1()
    for path in (_SOURCE, os.path.join(_mxnet_dir(), 'include', 'mxnet', 'lib_api.h')):
        with open(path, 'rb') as f:
            key.update(f.read())
    key.update(' '.join(_build_command('')).encode())
    key.update((mx.__version__ + sysconfig.get_platform()).encode())
    key.update(_cpu_flags().encode())  # -march=native: one build per instruction set
    return os.path.join(cache_dir(), 'ext', key.hexdigest()[:16], 'libpyd_depthwise.so')


def build_extension(force=False):
    """Compile ``csrc/depthwise.cc`` (if not cached) and return the library's path.

    Raises
    ------
    RuntimeError
        When the compiler fails or is missing; the message has the command and its output.
    """
    path = _library_path()
    if os.path.exists(path) and not force:
        return path
    with atomic_path(path) as tmp:
        cmd = _build_command(tmp)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as err:
            raise RuntimeError('cannot run the C++ compiler %r (%s); install g++ or set CXX'
                               % (cmd[0], err)) from err
        if proc.returncode != 0:
            raise RuntimeError('building the depthwise operator failed:\n%s\n%s'
                               % (' '.join(cmd), proc.stderr[-4000:]))
    return path


def extension_available():
    """Whether the C++ pyramid operator is loaded (building it on first call).

    A failure is reported once, as a warning.
    """
    if _state['loaded'] is not None:  # decided already: no lock on every forward pass
        return _state['loaded']
    with _lock:
        if _state['loaded'] is None:
            try:
                mx.library.load(build_extension(), verbose=False)
                _state['loaded'] = True
            except (RuntimeError, mx.base.MXNetError, OSError) as err:
                _state['loaded'], _state['error'] = False, err
                warnings.warn('gluon_pydmn: the fast pyramid operator is unavailable, fast=True '
                              'falls back to the separate branches: %s' % err)
        return _state['loaded']


def pyramid_depthwise(F, x, weights, kernel_sizes, stride, merge):
    """The pyramid depthwise convolution (``merge`` 'add' or 'concat') as one operator.

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    x : NDArray or Symbol
        Input, NCHW, float32 or float64.
    weights : list
        Branch kernels ``(C, 1, k, k)``, one per entry of ``kernel_sizes`` (odd sizes, padding
        ``k // 2``).

    Raises
    ------
    RuntimeError
        When the operator could not be built (see :func:`extension_available`).
    """
    if not extension_available():
        raise RuntimeError('the pyramid depthwise operator is unavailable (%s); build the '
                           'network with fast=False' % (_state['error'],))
    return F.pyd_pyramid_depthwise(x, *weights, kernels=','.join(map(str, kernel_sizes)),
                                   stride=stride, merge=merge)
