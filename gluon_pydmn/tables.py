"""The package's tables as CSV and Markdown: one description of a column, one writer of each
format, one CSV reader.

A table is a list of rows (dicts, a missing key or ``None`` where there is no value) and a list
of :class:`Column`. The CSV keeps every value (floats to six significant digits, empty cells
where there is none) and :func:`read_csv` turns it back into the rows; the Markdown formats each
value for reading (:attr:`Column.fmt`).
"""
import csv
import io
import os
from dataclasses import dataclass
from typing import Callable, Optional, Union

__all__ = ['Column', 'to_csv', 'read_csv', 'to_markdown']

_ALIGNMENT_ROW = {'left': '---', 'right': '---:'}


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    key : str
        The rows' key of the value, and the CSV column's name.
    header : str, optional
        The Markdown column's header (default ``key``).
    fmt : str or callable
        The Markdown text of a value: ``fmt % value`` (a tuple value fills several fields, as
        in ``'%.1f (%.1f-%.1f)'``) or ``fmt(value)``. Default ``'%s'``.
    align : {'left', 'right'}, optional
        The Markdown column's alignment; default left for text (``kind=str``), right for
        numbers.
    kind : {float, int, str}
        The value's type, which :func:`read_csv` parses a CSV cell back into. Default float.
    missing : str or callable
        The Markdown text where a row has no value: the text, or ``missing(row)``. Default
        empty.
    """
    key: str
    header: Optional[str] = None
    fmt: Union[str, Callable] = '%s'
    align: Optional[str] = None
    kind: type = float
    missing: Union[str, Callable] = ''

    def __post_init__(self):
        if self.kind not in (float, int, str):
            raise ValueError('Column %r: kind must be float, int or str, not %r'
                             % (self.key, self.kind))
        if self.align not in (None, 'left', 'right'):
            raise ValueError("Column %r: align must be 'left' or 'right', not %r"
                             % (self.key, self.align))
        # frozen: the defaults that depend on other fields are set once, here
        if self.header is None:
            object.__setattr__(self, 'header', self.key)
        if self.align is None:
            object.__setattr__(self, 'align', 'left' if self.kind is str else 'right')

    def markdown(self, row):
        """The Markdown text of this column's cell in ``row`` (``|`` written as ``/``, which
        would end the cell)."""
        value = row.get(self.key)
        if value is None:
            text = self.missing(row) if callable(self.missing) else self.missing
        else:
            text = self.fmt(value) if callable(self.fmt) else self.fmt % value
        return text.replace('|', '/')


def _csv_cell(value):
    if value is None:
        return ''
    return '%.6g' % value if isinstance(value, float) else value


def to_csv(rows, columns):
    """CSV text of ``rows``: a header of the columns' keys, then one line a row.

    Parameters
    ----------
    rows : list of dict
    columns : list of Column

    Returns
    -------
    str
        Floats to six significant digits (``'%.6g'``), other values as ``str`` gives them, an
        empty cell where a row has no value; lines end with ``\\n``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow([c.key for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(c.key)) for c in columns])
    return out.getvalue()


def read_csv(path, columns, writer=None):
    """The rows of a CSV file written by :func:`to_csv`, each cell parsed back into its
    column's ``kind``.

    Parameters
    ----------
    path : str
    columns : list of Column
        The columns the file must have; a column of the file not among them is kept as text.
    writer : str, optional
        The command that writes the file (e.g. ``'`gluon-pydmn table5`'``), named in the errors.

    Returns
    -------
    list of dict
        One dict a line, keyed by the file's header in its order: ``int``, ``float`` or
        ``str`` by the column's kind, ``None`` for an empty cell.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file lacks one of ``columns`` (a file of an older layout); the message names them.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('%s does not exist%s'
                                % (path, ': run %s to write it' % writer if writer else ''))
    kinds = {c.key: c.kind for c in columns}
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        missing = [key for key in kinds if key not in (reader.fieldnames or ())]
        if missing:
            raise ValueError('%s is not a CSV of this version: no column(s) %s%s'
                             % (path, ', '.join(missing),
                                '; regenerate it with %s' % writer if writer else ''))
        return [{key: None if text == '' else kinds.get(key, str)(text)
                 for key, text in row.items()} for row in reader]


def to_markdown(rows, columns):
    """The lines of a Markdown table of ``rows``: the header, the alignment row, one line a row.

    Parameters
    ----------
    rows : list of dict
    columns : list of Column
        Each cell is :meth:`Column.markdown` of its row.

    Returns
    -------
    list of str
        Without line ends: ``'\\n'.join(lines) + '\\n'`` is the table as text.
    """
    lines = ['| ' + ' | '.join(c.header for c in columns) + ' |',
             '|' + '|'.join(_ALIGNMENT_ROW[c.align] for c in columns) + '|']
    lines += ['| ' + ' | '.join(c.markdown(row) for c in columns) + ' |' for row in rows]
    return lines
