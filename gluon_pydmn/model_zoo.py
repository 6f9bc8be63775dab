"""Model zoo: ``get_model`` and friends over the table of :mod:`gluon_pydmn.catalog`.

Names follow ``<family>_<depth>_<multiplier>``, e.g. ``mobilenet_56_1`` or
``pydmobilenet_concat_56_0.75``. Pretrained weights are the authors' released
CIFAR checkpoints, converted by structure into this package's parameters (see
:mod:`gluon_pydmn.pretrained`); :func:`load_trained` also loads your own.

.. note:: **CIFAR-100 weights predict the 20 coarse superclasses.** The
   authors' CIFAR-100 checkpoints have a 100-way dense layer but were trained
   and evaluated on CIFAR-100's coarse labels (their predictions fall only in
   classes 0-19), and the paper's CIFAR-100 column is their error on those 20
   classes. ``get_model(..., classes=100, pretrained=True)`` therefore returns
   a network whose ``pretrained_cfg.label_set`` is ``'cifar100-coarse'``; it
   warns when loaded, and :func:`gluon_pydmn.evaluate.evaluate` refuses to
   score it against fine labels unless told to.
"""
import os
import warnings

import mxnet as mx

from .catalog import FAMILIES, LABEL_SETS, MODEL_CFGS, ModelCfg, model_cfg
from .catalog import label_set as _label_set
from .cifar_net import CIFARNet
from .classifier import mark_pretrained_head, set_class_names, set_input_normalization
from .errors import (CheckpointError, CheckpointMismatchError, CheckpointNotFoundError,
                     LabelSetMismatchError, UnknownNameError)
from .pretrained import PretrainedCfg, load_pretrained, pretrained_cfg, released_label_set
from .utils import (context_list, mxnet_error_reason,
                    params_file_problem)

__all__ = ['FAMILIES', 'MODEL_CFGS', 'ModelCfg', 'PretrainedCfg', 'CoarseLabelWarning',
           'get_model', 'get_model_list', 'get_cifar_net', 'pretrained_cfg', 'load_trained',
           'load_run']


class CoarseLabelWarning(UserWarning):
    """Loaded weights predict CIFAR-100's 20 coarse labels, not the 100 fine ones."""


class StaleInputBatchNormWarning(UserWarning):
    """Loaded weights whose input BatchNorm still has its initial running statistics (mean 0,
    variance 1), as training left it when the data had no gradient: the network's test error
    is too high until they are recomputed."""


def get_model_list(include_gluoncv=False):
    """Names of the models of the zoo, in the order of the paper's Table 3.

    With ``include_gluoncv=True`` also GluonCV's CIFAR networks (``cifar_resnet110_v2`` ...),
    which :func:`get_model` builds through GluonCV's own model zoo for training and counting.
    """
    return list(MODEL_CFGS) + (gluoncv_cifar_names() if include_gluoncv else [])


def gluoncv_cifar_names():
    """GluonCV's CIFAR model names (``cifar_resnet20_v1``, ..., ``cifar_resnet110_v2``, ...)."""
    from gluoncv.model_zoo import get_model_list as gluoncv_list  # gluoncv takes ~1 s to import
    return [name for name in gluoncv_list() if name.startswith('cifar_')]


def _unknown_model(name):
    return UnknownNameError(
        'unknown model %r; valid names are this zoo\'s:\n\t%s\nand GluonCV\'s CIFAR networks:\n\t%s\n'
        'For other depths or widths use gluon_pydmn.get_cifar_net(family, depth, multiplier).'
        % (name, '\n\t'.join(MODEL_CFGS), '\n\t'.join(gluoncv_cifar_names())))


def _gluoncv_model(name, classes, pretrained, ctx, checkpoint_path, kwargs):
    """GluonCV's CIFAR network ``name``: uninitialised, as GluonCV builds it, or Xavier-initialised
    (``initialize=True``), or loaded from a checkpoint."""
    from gluoncv.model_zoo import get_model as gluoncv_get_model
    if pretrained:
        raise ValueError('%s: this package has no released weights for GluonCV networks; load '
                         'GluonCV\'s own with gluoncv.model_zoo.get_model(%r, pretrained=True), or '
                         'your own with checkpoint_path=' % (name, name))
    initialize = kwargs.pop('initialize', False)
    kwargs = {k: v for k, v in kwargs.items() if k != 'fast'}  # no pyramid to speed up
    net = gluoncv_get_model(name, classes=classes, **kwargs)
    contexts = context_list(ctx)
    if checkpoint_path:
        _load_checkpoint(net, name, classes, checkpoint_path, contexts)
    elif initialize:
        net.initialize(mx.init.Xavier(), ctx=contexts)
    net.model_name = name
    net.pretrained_cfg = None
    return net


def get_cifar_net(family, depth, multiplier, classes=10, kernel_sizes=(3, 5, 7), *, ctx=None,
                  initialize=False, fast=False):
    """Generic constructor: any family, depth ``9n + 2`` and width multiplier.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`: ``'resnet'``, ``'mobilenet'``,
        ``'pydmobilenet_add'``, ``'pydmobilenet_concat'``.
    depth : int
        ``9 n + 2`` (29 and 56 in the paper).
    multiplier : float
        Width multiplier alpha.
    classes : int, default 10
        Outputs of the classifier.
    kernel_sizes : tuple of int, default (3, 5, 7)
        Kernel sizes of the depthwise pyramid (PydMobileNet families only).
    ctx : Context or list of Context, default ``mx.cpu()``
        Where to initialise the parameters (with ``initialize=True``).
    initialize : bool, default False
        Initialise with Xavier, as the paper's training does. By default the network is
        returned uninitialised, as GluonCV's constructors return theirs: call
        ``net.initialize(mx.init.Xavier(), ctx=ctx)`` (:func:`~gluon_pydmn.train.train` does
        it for an uninitialised network).
    fast : bool, default False
        CPU training speed-up for the PydMobileNet families: each pyramid runs as one C++
        operator (see :class:`~gluon_pydmn.blocks.PyramidDepthwise`); same parameters,
        outputs and gradients. ``False`` keeps the authors' graph operator for operator.
    """
    if family not in FAMILIES:
        raise UnknownNameError('unknown family %r; choose one of %s' % (family, ', '.join(FAMILIES)))
    asked = ctx if isinstance(ctx, (list, tuple)) else [ctx]
    if fast and any(c is not None and c.device_type != 'cpu' for c in asked):
        raise ValueError('fast=True is a CPU operator; on %s build the network with fast=False'
                         % (list(asked),))
    contexts = context_list(ctx)
    net = CIFARNet(FAMILIES[family].main, depth, multiplier, classes=classes,
                   kernel_sizes=kernel_sizes, fast=fast)
    if initialize:
        net.initialize(mx.init.Xavier(), ctx=contexts)
    net.pretrained_cfg = None
    return net


def _load_checkpoint(net, name, classes, path, ctx):
    _refuse_non_checkpoint(path)
    if not os.path.isfile(path):
        raise CheckpointNotFoundError('checkpoint %s not found (a training run writes final.params '
                                      'into its run folder)' % path)
    problem = params_file_problem(path)
    if problem:
        raise CheckpointError('cannot load %s: %s' % (path, problem))
    keys = mx.nd.load(path)
    if isinstance(keys, dict) and any(k.startswith(('arg:', 'aux:')) for k in keys):
        raise CheckpointError("%s is a file of the authors' release (arg:/aux: keys), not a "
                              "checkpoint of this package: load the authors' weights with "
                              "get_model(%r, pretrained=True, root=<release folder>)" % (path, name))
    try:
        net.load_parameters(path, ctx=ctx)
    except (AssertionError, mx.base.MXNetError) as e:
        raise CheckpointError('cannot load %s as %s with %d outputs (%s); is it a checkpoint of '
                              'this model and label set?' % (path, name, classes,
                                                             mxnet_error_reason(e))) from None
    if input_batchnorm_untrained(keys):
        warnings.warn(StaleInputBatchNormWarning(
            '%s has an input BatchNorm still at its initial running statistics (mean 0, '
            'variance 1; see docs/reproduction.md), so the network\'s test error is too high. '
            'Recompute them (gluon_pydmn.evaluate.recompute_batchnorm), or resume its run '
            'folder, which trains the layer from the next step on' % path), stacklevel=3)


#: What the files of a run folder other than its ``.params`` hold, by name or extension.
_RUN_FOLDER_FILES = {'state.json': "the run folder's training state (its last epoch and history)",
                     'run.json': "the run folder's spec (network, label set, schema)",
                     '.states': 'optimizer state (momentum), not network weights',
                     '.csv': 'a table', '.png': 'an image', '.md': 'a report'}


def _refuse_non_checkpoint(path):
    """Raise :class:`CheckpointError` naming what ``path`` is and the file to give instead, if
    it is a folder or a file other than a ``.params`` file."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    final = os.path.join(folder, 'final.params')
    fix = ('give %s' % final if os.path.isfile(final) else
           "give a .params file: a run folder's final.params, or its epoch-NNNN.params while "
           'the run is unfinished')
    if os.path.isdir(path):
        raise CheckpointError('%s is a folder, not a checkpoint: %s' % (path, fix))
    if os.path.isfile(path) and not path.endswith('.params'):
        base = os.path.basename(path)
        what = _RUN_FOLDER_FILES.get(base) or _RUN_FOLDER_FILES.get(os.path.splitext(base)[1])
        weights = os.path.splitext(path)[0] + '.params'
        if path.endswith('.states') and os.path.isfile(weights) and not os.path.isfile(final):
            fix = 'give %s, its epoch\'s weights' % weights
        raise CheckpointError('%s is %s, not a checkpoint (.params): %s'
                              % (path, what or 'not a .params file', fix))


def _refuse_other_run(name, label_set, path):
    """Raise if ``path`` lies in a run folder whose ``run.json`` records another network or
    label set than ``name`` and ``label_set``; a file outside a run folder passes."""
    from .run_folder import record_beside  # run_folder imports the schema, not the zoo
    record = record_beside(path)
    if record is None:
        return
    if record['model'] != name:
        raise CheckpointMismatchError(
            '%s is a checkpoint of %s (its run.json), not of %s: load it as %s (--model %s)'
            % (path, record['model'], name, record['model'], record['model']))
    if record['label_set'] != label_set:
        raise LabelSetMismatchError(
            '%s was trained on %s labels (its run.json), not %s: evaluate it on its own labels '
            "with --dataset %s (label_set='%s')"
            % (path, record['label_set'], label_set, record['label_set'], record['label_set']))


def input_batchnorm_untrained(weights):
    """Whether ``weights`` (a ``.params`` file as loaded by ``mx.nd.load``) have an input
    BatchNorm (``features.0``, as in this package's networks and GluonCV's CIFAR ResNet v2)
    still at its initial running statistics, mean 0 and variance 1: never updated in training
    (:class:`StaleInputBatchNormWarning`)."""
    mean, var = weights.get('features.0.running_mean'), weights.get('features.0.running_var')
    if mean is None or var is None:
        return False
    return bool((mean == 0).asnumpy().all() and (var == 1).asnumpy().all())


def get_model(name, classes=10, pretrained=False, ctx=None, root=None, checkpoint_path=None,
              **kwargs):
    """Build a zoo model by name, optionally with the authors' trained weights or your own.

    As in GluonCV, a network without weights is returned uninitialised: initialise it with
    ``net.initialize(mx.init.Xavier(), ctx=ctx)`` (the paper's initialisation; what
    :func:`~gluon_pydmn.train.train` does for an uninitialised network), or pass
    ``initialize=True``.

    Parameters
    ----------
    name : str
        One of :func:`get_model_list`, e.g. ``'pydmobilenet_concat_56_0.75'``, or one of
        GluonCV's CIFAR networks (``get_model_list(include_gluoncv=True)``, e.g.
        ``'cifar_resnet110_v2'``, the paper's pre-activation ResNet-110), built by GluonCV's
        model zoo, so it trains, counts and evaluates the same way.
    classes : int, default 10
        Outputs of the classifier. With ``pretrained=True``: 10 loads the
        CIFAR-10 weights, 100 the CIFAR-100 weights (which predict the 20
        coarse superclasses: see the module notes). For another number of classes, load the
        CIFAR-10 weights and call ``net.reset_classifier(classes)`` (docs/finetuning.md).
    pretrained : bool, default False
        Load the authors' released weights. Your own file goes to ``checkpoint_path``.
    ctx : Context or list of Context, default ``mx.cpu()``
        Where the parameters live.
    root : str, optional
        Where the weights are: a folder of converted files or one laid out
        like the authors' release. Defaults to ``$GLUON_PYDMN_WEIGHTS``, then
        ``~/.cache/gluon_pydmn/weights``.
    checkpoint_path : str, optional
        A ``.params`` file of this network trained with ``classes`` outputs, e.g. the
        ``final.params`` of a :func:`gluon_pydmn.train.train` run folder (as timm's
        ``checkpoint_path``). Not together with ``pretrained``.
    **kwargs
        Passed to :func:`get_cifar_net` (e.g. ``kernel_sizes``, ``fast``, ``initialize``).

    Returns
    -------
    CIFARNet
        With ``net.model_name`` set to ``name``, ``net.pretrained_cfg`` to the
        :class:`PretrainedCfg` of the loaded weights, or ``None``, and ``net.class_names`` to
        the names of the labels they predict.
    """
    if not isinstance(pretrained, bool):
        raise ValueError('pretrained takes True (the authors\' weights) or False, got %r; load '
                         'your own weights with checkpoint_path=%r' % (pretrained, pretrained))
    if pretrained and checkpoint_path:
        raise ValueError('pass pretrained=True (the authors\' weights) or checkpoint_path '
                         '(your own), not both')
    if name not in MODEL_CFGS:
        if isinstance(name, str) and name in gluoncv_cifar_names():
            return _gluoncv_model(name, classes, pretrained, ctx, checkpoint_path, kwargs)
        raise _unknown_model(name)
    cfg = model_cfg(name)
    if pretrained:
        pretrained_cfg(name, classes)  # refuses class counts without weights before building
    ctx = ctx or mx.cpu()
    if pretrained or checkpoint_path:
        kwargs['initialize'] = False
    net = get_cifar_net(cfg.family, cfg.depth, cfg.multiplier, classes=classes, ctx=ctx, **kwargs)
    net.model_name = name
    if checkpoint_path:
        _load_checkpoint(net, name, classes, checkpoint_path, ctx)
    if pretrained:
        _load_pretrained(net, pretrained_cfg(name, classes), root, ctx)
    return net


def _load_pretrained(net, pcfg, root, ctx):
    load_pretrained(net, pcfg, root=root, ctx=ctx)
    net.pretrained_cfg = pcfg
    mark_pretrained_head(net)
    set_class_names(net, pcfg.class_names)
    if pcfg.label_set == 'cifar100-coarse':
        warnings.warn('%s: the authors\' CIFAR-100 weights predict the 20 coarse superclasses '
                      '(outputs 0-19 of the 100-way layer), not the 100 fine labels; evaluate '
                      'them with CIFAR100(label_mode="coarse"). The paper\'s CIFAR-100 column '
                      'is this 20-class error.' % pcfg.model, CoarseLabelWarning, stacklevel=3)


def _describe_from_run(net, names, checkpoint_path):
    """Give ``net`` the class names and input normalisation its run folder records (else
    ``names`` and CIFAR's)."""
    from .run_folder import record_beside
    record = record_beside(checkpoint_path) or {}
    set_class_names(net, record.get('class_names') or names)
    if record.get('mean'):
        set_input_normalization(net, record['mean'], record['std'])


def load_trained(name, label_set='cifar10', checkpoint_path=None, ctx=None, root=None, **kwargs):
    """Zoo network ``name`` with trained weights for ``label_set``: the authors' or your own.

    Parameters
    ----------
    name : str
        Zoo name, or a GluonCV CIFAR name (with ``checkpoint_path`` only).
    label_set : {'cifar10', 'cifar100-fine', 'cifar100-coarse'}
        The labels to predict (:data:`gluon_pydmn.catalog.LABEL_SETS`). Without
        ``checkpoint_path`` the authors' weights are loaded: their CIFAR-10 ones, or for
        ``'cifar100-coarse'`` their CIFAR-100 ones, which predict the coarse labels; for
        ``'cifar100-fine'`` there are none (:class:`~gluon_pydmn.errors.LabelSetMismatchError`).
    checkpoint_path : str, optional
        Your own ``.params`` file (e.g. a training run's ``final.params``), trained on
        ``label_set`` with its ``head_width`` outputs, as ``gluon-pydmn train`` builds it.
    ctx, root, **kwargs
        As for :func:`get_model`.

    Raises
    ------
    CheckpointError
        ``checkpoint_path`` is a folder, or a file other than a ``.params`` file (a run
        folder's ``state.json``, an ``.states`` file): the message names the file to give.
    CheckpointMismatchError, LabelSetMismatchError
        ``checkpoint_path`` lies in a run folder whose ``run.json`` records another network or
        label set.
    """
    labels = _label_set(label_set)
    if checkpoint_path:
        _refuse_non_checkpoint(checkpoint_path)
        _refuse_other_run(name, labels.name, checkpoint_path)
        net = get_model(name, classes=labels.head_width, ctx=ctx,
                        checkpoint_path=checkpoint_path, **kwargs)
        _describe_from_run(net, labels.class_names, checkpoint_path)
        return net
    released_label_set(labels.name, name)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', CoarseLabelWarning)  # the coarse labels were asked for
        return get_model(name, classes=labels.head_width, pretrained=True, ctx=ctx, root=root,
                         **kwargs)


def load_run(checkpoint_path, ctx=None, **kwargs):
    """The network of a run folder's checkpoint (its ``final.params``, or an epoch's), built
    as the folder's ``run.json`` records it: the network, one output per class of the data it
    was trained on (a CIFAR label set or an image folder), its class names and input
    normalisation.

    Parameters
    ----------
    checkpoint_path : str
        A ``.params`` file in a run folder of :func:`gluon_pydmn.train.train`.
    ctx, **kwargs
        As for :func:`get_model`.

    Raises
    ------
    CheckpointError
        ``checkpoint_path`` is not a ``.params`` file, or lies outside a run folder (then load
        it with :func:`load_trained`, naming the network and label set).
    """
    from .run_folder import record_beside
    _refuse_non_checkpoint(checkpoint_path)
    problem = params_file_problem(checkpoint_path)
    if problem:
        raise CheckpointError('cannot load %s: %s' % (checkpoint_path, problem))
    record = record_beside(checkpoint_path)
    if record is None or not record.get('model'):
        raise CheckpointError('%s is not in a run folder (no run.json beside it): load it with '
                              'load_trained(name, label_set, checkpoint_path=...) (--model and '
                              '--dataset)' % checkpoint_path)
    head = mx.nd.load(checkpoint_path).get('output.weight')
    classes = (int(head.shape[0]) if head is not None else
               _label_set(record['label_set']).head_width)
    net = get_model(record['model'], classes=classes, ctx=ctx, checkpoint_path=checkpoint_path,
                    **dict(record.get('model_args') or {}, **kwargs))
    names = record.get('class_names')
    if not names and record['label_set'] in LABEL_SETS:
        names = LABEL_SETS[record['label_set']].class_names
    _describe_from_run(net, names or (), checkpoint_path)
    net.label_set = record['label_set']
    return net
