"""The paper's published numbers: Tables 3-5, the training schema and Figure 2's description.

They ship with the package as ``paper_tables.json`` beside this module, transcribed from the
paper's text (arXiv 1811.07083): keys ``source``, ``training_schema`` (Section 4.2, with the
mixup settings of the authors' training notebook, see its ``notes``), ``table3``,
``table4_others`` (Table 4 without the PydMobileNet rows, which are Table 3's), ``table5``
and ``figure2``. ``path=`` or ``$GLUON_PYDMN_PAPER_TABLES`` replaces the transcription with
another file of the same layout.
"""
import json
import os

from ..catalog import MODEL_CFGS
from ..catalog import label_set as _label_set
from ..errors import PaperTablesNotFoundError

__all__ = ['ENV_PAPER_TABLES', 'PACKAGE_TABLES', 'PaperTablesNotFoundError', 'load_paper_tables',
           'table3_error', 'paper_error', 'paper_note', 'paper_name', 'model_of_row',
           'paper_source', 'GLUONCV_ROWS', 'GLUONCV_TABLE4_ROWS', 'PAPER_SCHEMA', 'GLUONCV_MODEL_ZOO']

ENV_PAPER_TABLES = 'GLUON_PYDMN_PAPER_TABLES'
PACKAGE_TABLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'paper_tables.json')

# Table 3 rows that the paper took from GluonCV's model zoo -> GluonCV model names.
GLUONCV_ROWS = {'ResNet-20': 'cifar_resnet20_v1', 'ResNet-56': 'cifar_resnet56_v1'}
# The same for Table 4: its ResNet-110*, the pre-activation ResNet-110 of Figure 2 ([14]).
GLUONCV_TABLE4_ROWS = {'ResNet-110 (GluonCV model zoo)': 'cifar_resnet110_v2'}
_GLUONCV_PAPER_NAMES = {zoo: paper for rows in (GLUONCV_ROWS, GLUONCV_TABLE4_ROWS)
                        for paper, zoo in rows.items()}
_MODELS_BY_ROW = dict({cfg.paper_name: name for name, cfg in MODEL_CFGS.items()},
                      **GLUONCV_ROWS, **GLUONCV_TABLE4_ROWS)

# What :func:`paper_source` answers: how the paper's number for a network came about.
PAPER_SCHEMA = 'full 320-epoch schema'
GLUONCV_MODEL_ZOO = "quoted from GluonCV's model zoo"


def load_paper_tables(path=None):
    """The paper's numbers as a dict (see the module notes for its keys).

    Parameters
    ----------
    path : str, optional
        A JSON file to read instead of the package's transcription; default
        ``$GLUON_PYDMN_PAPER_TABLES`` if set, else :data:`PACKAGE_TABLES`.
    """
    path = path or os.environ.get(ENV_PAPER_TABLES) or PACKAGE_TABLES
    if not os.path.isfile(path):
        raise PaperTablesNotFoundError(
            "the paper's tables are not at %s: fix the path or $%s, or unset it to use the "
            "package's own transcription" % (path, ENV_PAPER_TABLES))
    with open(path) as f:
        return json.load(f)


def table3_error(tables, paper_name, label_set):
    """The paper's Table 3 top-1 error (percent) of row ``paper_name`` (e.g.
    ``'PydMobileNet-Concat-56-0.75'``) on ``label_set``, or None where the paper has none
    (no such row; ``'cifar100-fine'``, since its CIFAR-100 column is on the coarse labels)."""
    column = _label_set(label_set).paper_column
    rows = [r for r in tables['table3'] if r['model'] == paper_name]
    return rows[0][column] if column and rows else None


def paper_error(tables, model, label_set):
    """The paper's top-1 error (percent) of network ``model`` on ``label_set``, or None where
    the paper has none.

    Parameters
    ----------
    tables : dict
        :func:`load_paper_tables`.
    model : str
        A zoo name (its Table 3 row, :func:`table3_error`) or a GluonCV CIFAR name: Table 3's
        ResNet-20* and ResNet-56* (:data:`GLUONCV_ROWS`) and Table 4's ResNet-110*
        (:data:`GLUONCV_TABLE4_ROWS`) are GluonCV's model-zoo networks, trained by GluonCV's
        recipe rather than the paper's schema.
    label_set : str
        A name of :data:`gluon_pydmn.catalog.LABEL_SETS`. GluonCV's rows answer for
        ``'cifar10'`` only: the paper does not say which CIFAR-100 labels their numbers are on.
    """
    cfg = MODEL_CFGS.get(model)
    if cfg is not None:
        return table3_error(tables, cfg.paper_name, label_set)
    if _label_set(label_set).name != 'cifar10':
        return None
    for rows, names in ((tables['table3'], GLUONCV_ROWS),
                        (tables['table4_others'], GLUONCV_TABLE4_ROWS)):
        for row in rows:
            if names.get(row['model']) == model:
                return row['cifar10_error']
    return None


def paper_name(model):
    """The name of the paper's row for network ``model`` (``'PydMobileNet-Concat-56-0.25'``,
    ``'ResNet-20'``, ``'ResNet-110 (GluonCV model zoo)'``), or None if the paper has none."""
    cfg = MODEL_CFGS.get(model)
    return cfg.paper_name if cfg is not None else _GLUONCV_PAPER_NAMES.get(model)


def model_of_row(row_name):
    """The network of the paper's row ``row_name``, the inverse of :func:`paper_name`: a zoo
    name (``'PydMobileNet-Concat-56-0.25'`` -> ``'pydmobilenet_concat_56_0.25'``), a GluonCV
    name for the rows quoted from GluonCV (``'ResNet-20'`` -> ``'cifar_resnet20_v1'``), or
    None for a row the package has no network for."""
    return _MODELS_BY_ROW.get(row_name)


def paper_source(model):
    """How the paper's number for network ``model`` came about: :data:`PAPER_SCHEMA` for a
    zoo network (trained by the authors with the paper's schema), :data:`GLUONCV_MODEL_ZOO`
    for the GluonCV rows (GluonCV's own recipe, quoted), None if the paper has no row."""
    if model in MODEL_CFGS:
        return PAPER_SCHEMA
    return GLUONCV_MODEL_ZOO if model in _GLUONCV_PAPER_NAMES else None


def paper_note(model, label_set, tables=None):
    """A sentence giving the paper's error for ``model`` on ``label_set``, for a training run's
    report; ``''`` where the paper has none or its tables are not at hand."""
    try:
        error = paper_error(tables or load_paper_tables(), model, label_set)
    except FileNotFoundError:
        return ''
    if error is None:
        return ''
    if paper_source(model) == GLUONCV_MODEL_ZOO:
        return (" The paper quotes %.2f%% for this network on %s from GluonCV's model zoo, "
                "whose weights GluonCV trained with its own recipe, not the paper's schema."
                % (error, label_set))
    return (" The paper's Table 3 gives %.2f%% for this network on %s with its full schema "
            "(320 epochs); the authors' notebook reported the best epoch's accuracy, so the "
            "best epoch is the one to compare with it." % (error, label_set))
