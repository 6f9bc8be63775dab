"""Small helpers shared by the package: cache folder, atomic writes, downloads, command lines."""
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import urllib.request

__all__ = ['ENV_CACHE', 'cache_dir', 'atomic_path', 'download', 'command_line', 'context_list']

ENV_CACHE = 'GLUON_PYDMN_CACHE'


def cache_dir():
    """``$GLUON_PYDMN_CACHE``, else ``~/.cache/gluon_pydmn``."""
    return os.path.expanduser(os.environ.get(ENV_CACHE) or os.path.join('~', '.cache', 'gluon_pydmn'))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    An interrupted write never leaves a partial ``path`` behind.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.', suffix='.tmp')
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            if os.path.isdir(tmp):
                shutil.rmtree(tmp)
            else:
                os.remove(tmp)


def download(url, path, error, remedy, check=None):
    """Fetch ``url`` into ``path``; ``path`` appears only once complete (and checked).

    Parameters
    ----------
    url, path : str
    error : type
        Exception raised when the download fails, with a message naming ``url``, the folder
        and the cause, and ending with ``remedy``.
    remedy : str
        What the user can do instead, e.g. ``'put the file there yourself'``.
    check : callable, optional
        ``check(tmp_path)`` runs on the downloaded file before it is moved into place; it
        raises to refuse the file.
    """
    try:
        with atomic_path(path) as tmp:
            urllib.request.urlretrieve(url, tmp)
            if check is not None:
                check(tmp)
    except OSError as e:  # URLError, HTTPError and ContentTooShortError are OSErrors
        raise error('could not download %s into %s (%s): check the connection, or %s'
                    % (url, os.path.dirname(os.path.abspath(path)), e, remedy)) from e


def command_line(script, argv=None):
    """The shell command that ran ``script`` with ``argv`` (default ``sys.argv[1:]``), for
    recording in generated results: ``python experiments/x.py --flag value``."""
    words = [os.path.relpath(script)] + list(sys.argv[1:] if argv is None else argv)
    return 'python ' + ' '.join(shlex.quote(w) for w in words)


def context_list(ctx=None):
    """``ctx`` (a Context, a list of them, or None for the CPU) as a non-empty list."""
    import mxnet as mx
    contexts = list(ctx) if isinstance(ctx, (list, tuple)) else [ctx]
    return [c for c in contexts if c is not None] or [mx.cpu()]
