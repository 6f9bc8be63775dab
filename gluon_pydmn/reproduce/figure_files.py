"""Writing figures: the format from the file name, atomically, the generating command in the
image's metadata."""
import os

from matplotlib.backend_bases import FigureCanvasBase

from ..errors import UserError
from ..utils import atomic_path

__all__ = ['figure_format', 'save_figure']


def figure_format(path):
    """The image format ``path``'s extension names (``'png'``...).

    Raises
    ------
    UserError
        An extension matplotlib cannot write; the message lists those it can. Call it before
        plotting, so that nothing is drawn or written for a name that cannot be saved.
    """
    fmt = os.path.splitext(path)[1][1:].lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if fmt not in formats:
        raise UserError('cannot write %s: %s; give a file ending in one of %s (e.g. .png)'
                        % (path, 'the name has no extension' if not fmt else
                           'matplotlib cannot write .%s files' % fmt,
                           ', '.join('.' + f for f in sorted(formats))))
    return fmt


def save_figure(fig, path, description=None):
    """Write ``fig`` to ``path`` atomically, the format chosen by the extension
    (:func:`figure_format`).

    ``description`` goes into the file's metadata (PNG ``Description``), e.g. the command
    that generated it.
    """
    fmt = figure_format(path)
    metadata = {'Description': description} if description and fmt == 'png' else None
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120, metadata=metadata)
