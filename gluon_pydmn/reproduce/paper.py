"""The paper's published numbers (Tables 3-5), read from a JSON transcription.

The transcription is not part of this package: point ``path=`` or
``$GLUON_PYDMN_PAPER_TABLES`` at it (in this project: the shared
``reference/paper_tables.json``).
"""
import json
import os

from ..catalog import label_set as _label_set

__all__ = ['ENV_PAPER_TABLES', 'load_paper_tables', 'table3_error', 'GLUONCV_ROWS']

ENV_PAPER_TABLES = 'GLUON_PYDMN_PAPER_TABLES'

# Table 3 rows that the paper took from GluonCV's model zoo -> GluonCV model names.
GLUONCV_ROWS = {'ResNet-20': 'cifar_resnet20_v1', 'ResNet-56': 'cifar_resnet56_v1'}


def load_paper_tables(path=None):
    """Load the paper's tables: a dict with keys ``table3``, ``table4_others``, ``table5``
    and ``training_schema``."""
    path = path or os.environ.get(ENV_PAPER_TABLES)
    if not path:
        raise FileNotFoundError('no transcription of the paper\'s tables given: pass its path or '
                                'set $%s (in this project: ../shared/reference/paper_tables.json)'
                                % ENV_PAPER_TABLES)
    if not os.path.isfile(path):
        raise FileNotFoundError('the paper\'s tables are not at %s: fix the path or $%s'
                                % (path, ENV_PAPER_TABLES))
    with open(path) as f:
        return json.load(f)


def table3_error(tables, paper_name, label_set):
    """The paper's Table 3 top-1 error (percent) of row ``paper_name`` (e.g.
    ``'PydMobileNet-Concat-56-0.75'``) on ``label_set``, or None where the paper has none
    (no such row; ``'cifar100-fine'``, since its CIFAR-100 column is on the coarse labels)."""
    column = _label_set(label_set).paper_column
    rows = [r for r in tables['table3'] if r['model'] == paper_name]
    return rows[0][column] if column and rows else None
