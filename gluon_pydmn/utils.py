"""Small helpers shared by the package: cache folder, atomic writes, downloads."""
import contextlib
import os
import shutil
import tempfile
import urllib.request

__all__ = ['ENV_CACHE', 'cache_dir', 'atomic_path', 'is_temporary', 'write_text', 'download',
           'context_list', 'params_file_problem', 'mxnet_error_reason']

ENV_CACHE = 'GLUON_PYDMN_CACHE'


def cache_dir():
    """``$GLUON_PYDMN_CACHE``, else ``~/.cache/gluon_pydmn``."""
    return os.path.expanduser(os.environ.get(ENV_CACHE) or os.path.join('~', '.cache', 'gluon_pydmn'))


@contextlib.contextmanager
def atomic_path(path, suffix=''):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    An interrupted write never leaves a partial ``path`` behind; a killed process can leave
    the temporary file, named ``.<name>.<random>.tmp<suffix>`` (:func:`is_temporary`). The
    file gets the usual permissions (``0o666`` less the umask), not ``mkstemp``'s owner-only
    ``0o600``. ``suffix`` ends the temporary name, e.g. ``'.png'`` for a writer that picks the
    format by extension.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.',
                               suffix='.tmp' + suffix)
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
                shutil.rmtree(tmp)
            else:
                os.remove(tmp)


def is_temporary(name):
    """Whether the file name ``name`` is one of :func:`atomic_path`'s temporary files."""
    return name.startswith('.') and '.tmp' in name[1:]


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`; missing folders created)."""
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


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


def context_list(ctx=None):
    """``ctx`` (a Context, a list of them, or None for the CPU) as a non-empty list, checked
    to be usable here (:func:`gluon_pydmn.devices.check_contexts`: a GPU on an MXNet without
    CUDA raises :class:`~gluon_pydmn.errors.NoGpuError`, in one line naming the build to
    install)."""
    import mxnet as mx
    from .devices import check_contexts
    contexts = [c for c in (list(ctx) if isinstance(ctx, (list, tuple)) else [ctx])
                if c is not None]
    for c in contexts:
        if not isinstance(c, mx.Context):
            raise TypeError('ctx must be an MXNet context such as mx.cpu() or mx.gpu(0), or a '
                            'list of them; got %r' % (c,))
    return check_contexts(contexts or [mx.cpu()])


_NDARRAY_FILE_MAGIC = (0x112).to_bytes(8, 'little')  # MXNet's NDArray list file header


def params_file_problem(path):
    """Why ``path`` cannot be an MXNet ``.params``/``.states`` file, or ``None`` if it may be:
    missing, unreadable, empty, another kind of file, or truncated/damaged."""
    if not os.path.isfile(path):
        return 'it does not exist'
    try:
        with open(path, 'rb') as f:
            head = f.read(8)
    except OSError as e:
        return 'it cannot be read (%s)' % (e.strerror or e)
    if not head:
        return 'the file is empty'
    if path.endswith('.params') and head != _NDARRAY_FILE_MAGIC:
        return 'it is not an MXNet parameter file'
    import mxnet as mx
    if path.endswith('.params'):
        try:
            mx.nd.load(path)
        except mx.base.MXNetError:
            return 'the file is truncated or damaged'
    return None


def mxnet_error_reason(error):
    """The telling line of an MXNet/Gluon error message (not its "Traceback" header)."""
    lines = [line.strip() for line in str(error).strip().splitlines()]
    lines = [line for line in lines if line and not line.startswith(('Traceback', 'File "'))]
    reason = lines[-1] if lines else type(error).__name__
    return reason[len('MXNetError: '):] if reason.startswith('MXNetError: ') else reason
