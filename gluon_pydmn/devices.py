"""The devices a script runs on: one parser of their names and one check that MXNet can use them.

:func:`parse_ctx` turns ``'cpu'``, ``'gpu'`` or ``'gpu:0,1'`` into MXNet contexts;
:func:`check_contexts` refuses, with :class:`~gluon_pydmn.errors.NoGpuError`, GPUs that this
MXNet build (one without CUDA) or this machine cannot provide, before anything is loaded.
"""
import re

import mxnet as mx

from .errors import NoGpuError

__all__ = ['parse_ctx', 'check_contexts']

_DEVICES = re.compile(r'(cpu|gpu)(?::(\d+(?:,\d+)*))?')


def parse_ctx(text):
    """The MXNet contexts named by ``text``.

    Parameters
    ----------
    text : str
        ``'cpu'`` (also ``'cpu:0'``), ``'gpu'`` (GPU 0), ``'gpu:N'`` or ``'gpu:N,M,...'``
        (distinct GPU ids); case and surrounding spaces do not matter.

    Returns
    -------
    list of Context
        ``[mx.cpu()]`` or one ``mx.gpu(i)`` per id, in the order given. Whether they exist is
        :func:`check_contexts`' business.

    Raises
    ------
    ValueError
        ``text`` is none of these; the message shows the accepted forms.
    """
    match = _DEVICES.fullmatch(text.strip().lower())
    ids = [int(i) for i in match.group(2).split(',')] if match and match.group(2) else [0]
    if not match or len(set(ids)) != len(ids) or (match.group(1) == 'cpu' and ids != [0]):
        raise ValueError("expected 'cpu', 'gpu', 'gpu:N' or 'gpu:N,M,...' (distinct GPU ids), "
                         'got %r' % text)
    return [mx.cpu()] if match.group(1) == 'cpu' else [mx.gpu(i) for i in ids]


def _num_gpus():
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:
        return 0


def check_contexts(contexts):
    """``contexts`` if MXNet can use every one of them.

    Parameters
    ----------
    contexts : list of Context

    Returns
    -------
    list of Context
        ``contexts`` itself.

    Raises
    ------
    NoGpuError
        A GPU context on an MXNet build without CUDA (the message names the CUDA build to
        install, ``pip install mxnet-cu112==<this version>``), or GPU ids this machine does not
        have (the message names them and the GPUs MXNet sees).
    """
    ids = [c.device_id for c in contexts if c.device_type == 'gpu']
    if not ids:
        return contexts
    if not mx.runtime.Features().is_enabled('CUDA'):
        raise NoGpuError('this MXNet build (mxnet %s) has no GPU support; install a CUDA build '
                         'such as mxnet-cu112 (pip install mxnet-cu112==%s) to use a GPU'
                         % (mx.__version__, mx.__version__))
    count = _num_gpus()
    missing = [i for i in ids if not 0 <= i < count]
    if missing:
        raise NoGpuError('no GPU %s on this machine: MXNet sees %s'
                         % (', '.join(map(str, missing)),
                            '%d GPU(s), ids 0 to %d' % (count, count - 1) if count else
                            'no GPU (a CUDA build)'))
    return contexts
