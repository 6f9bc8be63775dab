"""Small helpers shared by the package: cache folder, atomic writes, command lines."""
import contextlib
import os
import shlex
import sys
import tempfile

__all__ = ['ENV_CACHE', 'cache_dir', 'atomic_path', 'command_line', 'context_list']

ENV_CACHE = 'GLUON_PYDMN_CACHE'


def cache_dir():
    """``$GLUON_PYDMN_CACHE``, else ``~/.cache/gluon_pydmn``."""
    return os.path.expanduser(os.environ.get(ENV_CACHE) or os.path.join('~', '.cache', 'gluon_pydmn'))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    An interrupted write never leaves a partial ``path`` behind. The file gets the usual
    permissions (``0o666`` less the umask), not ``mkstemp``'s owner-only ``0o600``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.', suffix='.tmp')
    os.close(fd)
    try:
        yield tmp
        if os.path.isfile(tmp):
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            if os.path.isdir(tmp):
                import shutil
                shutil.rmtree(tmp)
            else:
                os.remove(tmp)


def command_line(script, argv=None):
    """The shell command that ran ``script`` with ``argv`` (default ``sys.argv[1:]``), for
    recording in generated results: ``python experiments/x.py --flag value``."""
    words = [os.path.relpath(script)] + list(sys.argv[1:] if argv is None else argv)
    return 'python ' + ' '.join(shlex.quote(w) for w in words)


def context_list(ctx=None):
    """``ctx`` (a Context, a list of them, or None for the CPU) as a non-empty list."""
    import mxnet as mx
    contexts = [c for c in (list(ctx) if isinstance(ctx, (list, tuple)) else [ctx])
                if c is not None]
    for c in contexts:
        if not isinstance(c, mx.Context):
            raise TypeError('ctx must be an MXNet context such as mx.cpu() or mx.gpu(0), or a '
                            'list of them; got %r' % (c,))
    return contexts or [mx.cpu()]
