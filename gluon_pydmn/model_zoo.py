"""Model zoo: one table of the 22 networks of Table 3, ``get_model`` and friends.

Names follow ``<family>_<depth>_<multiplier>``, e.g. ``mobilenet_56_1`` or
``pydmobilenet_concat_56_0.75``. Pretrained weights are the authors' released
CIFAR checkpoints, converted by structure into this package's parameters (see
:mod:`gluon_pydmn.pretrained`).

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
from dataclasses import dataclass

import mxnet as mx

from .cifar_net import CIFARNet
from .data import CIFAR_MEAN, CIFAR_STD, LABEL_SETS
from .evaluate import LabelSetMismatchError
from .utils import context_list

__all__ = ['FAMILIES', 'MODEL_CFGS', 'ModelCfg', 'PretrainedCfg', 'CoarseLabelWarning',
           'get_model', 'get_model_list', 'get_cifar_net', 'pretrained_cfg', 'load_trained']


@dataclass(frozen=True)
class Family:
    """A block type of the paper: its main part, paper name and release file naming."""
    main: str
    paper_name: str
    release_stem: str  # file stem in the authors' release, formatted with depth and alpha


FAMILIES = {
    'resnet': Family('conv', 'ResNet', 'resnet{depth}'),
    'mobilenet': Family('depthwise', 'MobileNet', 'mobilenet{depth}_{alpha}'),
    'pydmobilenet_add': Family('pyramid_add', 'PydMobileNet-Add', 'pydmobilenet{depth}_{alpha}_plus'),
    'pydmobilenet_concat': Family('pyramid_concat', 'PydMobileNet-Concat',
                                  'pydmobilenet{depth}_{alpha}_concat'),
}

# The networks of Table 3: (family, width multipliers), each at depth 29 and 56.
_TABLE3 = (
    ('resnet', (0.5,)),
    ('mobilenet', (0.5, 1, 1.5)),
    ('pydmobilenet_add', (0.25, 0.5, 0.75, 1)),
    ('pydmobilenet_concat', (0.25, 0.5, 0.75)),
)


@dataclass(frozen=True)
class ModelCfg:
    """Architecture of one zoo model."""
    family: str
    depth: int
    multiplier: float

    @property
    def alpha(self):
        """The multiplier as written in names: ``0.25``, ``1``, ``1.5``."""
        return '%g' % self.multiplier

    @property
    def name(self):
        return '%s_%d_%s' % (self.family, self.depth, self.alpha)

    @property
    def main(self):
        return FAMILIES[self.family].main

    @property
    def paper_name(self):
        """The row name in the paper's tables, e.g. ``PydMobileNet-Concat-56-0.75``."""
        return '%s-%d-%s' % (FAMILIES[self.family].paper_name, self.depth, self.alpha)

    @property
    def release_stem(self):
        """File stem of this model in the authors' release, without the dataset prefix."""
        return FAMILIES[self.family].release_stem.format(depth=self.depth, alpha=self.alpha)


MODEL_CFGS = {cfg.name: cfg for cfg in (ModelCfg(family, depth, alpha)
                                        for depth in (29, 56)
                                        for family, alphas in _TABLE3
                                        for alpha in alphas)}

AUTHORS_RELEASE = 'thanhhvnqb/pydmobilenet_mxnet'
AUTHORS_RELEASE_URL = 'https://github.com/' + AUTHORS_RELEASE

# Labels a checkpoint predicts: the dataset it was trained on and the label granularity.
_LABEL_SETS = {10: ('cifar10', 'cifar10', 10), 100: ('cifar100', 'cifar100-coarse', 20)}


@dataclass(frozen=True)
class PretrainedCfg:
    """Where a pretrained model's weights come from and what they predict.

    Attributes
    ----------
    model : str
        Zoo name.
    dataset : str
        ``'cifar10'`` or ``'cifar100'``: the images the weights were trained on.
    label_set : str
        ``'cifar10'`` or ``'cifar100-coarse'``: the labels they predict. The
        authors' CIFAR-100 weights predict the 20 coarse superclasses.
    num_outputs : int
        Width of the dense layer (10 or 100).
    num_labels : int
        Classes actually predicted (10 or 20).
    mean, std : tuple of float
        Input normalisation after ``ToTensor``.
    release_files : tuple of str
        Graph and weight files, relative to the root of the authors' release.
    source : str
        Where the weights come from.
    """
    model: str
    dataset: str
    label_set: str
    num_outputs: int
    num_labels: int
    mean: tuple
    std: tuple
    release_files: tuple
    source: str

    @property
    def converted_file(self):
        """File name of the converted weights (this package's own format)."""
        return '%s-%s.params' % (self.model, self.dataset)


class CoarseLabelWarning(UserWarning):
    """Loaded weights predict CIFAR-100's 20 coarse labels, not the 100 fine ones."""


def get_model_list():
    """Names of the models of the zoo, in the order of the paper's Table 3."""
    return list(MODEL_CFGS)


def _model_cfg(name):
    try:
        return MODEL_CFGS[name]
    except (KeyError, TypeError):
        raise ValueError('unknown model %r; valid names are:\n\t%s\nFor other depths or widths use '
                         'gluon_pydmn.get_cifar_net(family, depth, multiplier).'
                         % (name, '\n\t'.join(get_model_list()))) from None


def pretrained_cfg(name, classes=10):
    """The :class:`PretrainedCfg` of zoo model ``name`` for ``classes`` outputs (10 or 100)."""
    cfg = _model_cfg(name)
    if classes not in _LABEL_SETS:
        raise ValueError('pretrained weights exist for classes=10 (CIFAR-10) and classes=100 '
                         '(CIFAR-100), not classes=%r' % (classes,))
    dataset, label_set, num_labels = _LABEL_SETS[classes]
    folder = cfg.family
    stem = '%s_%s' % (dataset, cfg.release_stem)
    return PretrainedCfg(
        model=name, dataset=dataset, label_set=label_set, num_outputs=classes,
        num_labels=num_labels, mean=CIFAR_MEAN, std=CIFAR_STD,
        release_files=('%s/%s-symbol.json' % (folder, stem), '%s/%s-0000.params' % (folder, stem)),
        source='authors\' release %s, converted by gluon_pydmn' % AUTHORS_RELEASE_URL)


def get_cifar_net(family, depth, multiplier, classes=10, kernel_sizes=(3, 5, 7), ctx=None,
                  initialize=True, fast=False):
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
        Where to initialise the parameters.
    initialize : bool, default True
        Initialise with Xavier, as in the paper.
    fast : bool, default False
        CPU training speed-up for the PydMobileNet families: each pyramid runs as one C++
        operator (see :class:`~gluon_pydmn.blocks.PyramidDepthwise`); same parameters,
        outputs and gradients. ``False`` keeps the authors' graph operator for operator.
    """
    if family not in FAMILIES:
        raise ValueError('unknown family %r; choose one of %s' % (family, ', '.join(FAMILIES)))
    contexts = context_list(ctx)
    if fast and any(c.device_type != 'cpu' for c in contexts):
        raise ValueError('fast=True is a CPU operator; on %s build the network with fast=False'
                         % (contexts,))
    net = CIFARNet(FAMILIES[family].main, depth, multiplier, classes=classes,
                   kernel_sizes=kernel_sizes, fast=fast)
    if initialize:
        net.initialize(mx.init.Xavier(), ctx=contexts)
    net.pretrained_cfg = None
    return net


def _load_checkpoint(net, name, classes, path, ctx):
    if not os.path.isfile(path):
        raise FileNotFoundError('checkpoint %s not found (a training run writes final.params '
                                'into its run folder)' % path)
    try:
        net.load_parameters(path, ctx=ctx)
    except (AssertionError, mx.base.MXNetError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError('cannot load %s as %s with %d outputs (%s); is it a checkpoint of this '
                         'model and label set?' % (path, name, classes, reason)) from e


def get_model(name, classes=10, pretrained=False, ctx=None, root=None, checkpoint_path=None,
              **kwargs):
    """Build a zoo model by name, optionally with the authors' trained weights or your own.

    Parameters
    ----------
    name : str
        One of :func:`get_model_list`, e.g. ``'pydmobilenet_concat_56_0.75'``.
    classes : int, default 10
        Outputs of the classifier. With ``pretrained=True``: 10 loads the
        CIFAR-10 weights, 100 the CIFAR-100 weights (which predict the 20
        coarse superclasses: see the module notes).
    pretrained : bool, default False
        Load the authors' released weights; otherwise initialise with Xavier.
    ctx : Context or list of Context, default ``mx.cpu()``
        Where the parameters live (GPU contexts are supported by MXNet but
        untested here).
    root : str, optional
        Where the weights are: a folder of converted files or one laid out
        like the authors' release. Defaults to ``$GLUON_PYDMN_WEIGHTS``, then
        ``~/.cache/gluon_pydmn/weights``.
    checkpoint_path : str, optional
        A ``.params`` file of this network trained with ``classes`` outputs, e.g. the
        ``final.params`` of a :func:`gluon_pydmn.train.train` run folder (as timm's
        ``checkpoint_path``). Not together with ``pretrained``.
    **kwargs
        Passed to :func:`get_cifar_net` (e.g. ``kernel_sizes``, ``fast``).

    Returns
    -------
    CIFARNet
        With ``net.pretrained_cfg`` set to the :class:`PretrainedCfg` of the
        loaded weights, or ``None``.
    """
    cfg = _model_cfg(name)
    if pretrained and checkpoint_path:
        raise ValueError('pass pretrained=True (the authors\' weights) or checkpoint_path '
                         '(your own), not both')
    ctx = ctx or mx.cpu()
    net = get_cifar_net(cfg.family, cfg.depth, cfg.multiplier, classes=classes, ctx=ctx,
                        initialize=not (pretrained or checkpoint_path), **kwargs)
    if checkpoint_path:
        _load_checkpoint(net, name, classes, checkpoint_path, ctx)
    if pretrained:
        from .pretrained import load_pretrained
        pcfg = pretrained_cfg(name, classes)
        load_pretrained(net, pcfg, root=root, ctx=ctx)
        net.pretrained_cfg = pcfg
        if pcfg.label_set == 'cifar100-coarse':
            warnings.warn('%s: the authors\' CIFAR-100 weights predict the 20 coarse superclasses '
                          '(outputs 0-19 of the 100-way layer), not the 100 fine labels; evaluate '
                          'them with CIFAR100(label_mode="coarse"). The paper\'s CIFAR-100 column '
                          'is this 20-class error.' % name, CoarseLabelWarning, stacklevel=2)
    return net


def load_trained(name, label_set='cifar10', checkpoint_path=None, ctx=None, root=None, **kwargs):
    """Zoo network ``name`` with trained weights for ``label_set``: the authors' or your own.

    Parameters
    ----------
    name : str
        Zoo name.
    label_set : {'cifar10', 'cifar100-fine', 'cifar100-coarse'}
        The labels to predict. Without ``checkpoint_path`` the authors' weights are loaded:
        their CIFAR-10 ones, or for ``'cifar100-coarse'`` their CIFAR-100 ones, which predict
        the coarse labels; for ``'cifar100-fine'`` there are none
        (:class:`~gluon_pydmn.evaluate.LabelSetMismatchError`).
    checkpoint_path : str, optional
        Your own ``.params`` file (e.g. a training run's ``final.params``), trained on
        ``label_set`` with :data:`gluon_pydmn.data.LABEL_SETS` outputs, as ``experiments/train.py``
        builds it.
    ctx, root, **kwargs
        As for :func:`get_model`.
    """
    if label_set not in LABEL_SETS:
        raise ValueError('unknown label set %r; choose one of %s'
                         % (label_set, ', '.join(LABEL_SETS)))
    if checkpoint_path:
        return get_model(name, classes=LABEL_SETS[label_set], ctx=ctx,
                         checkpoint_path=checkpoint_path, **kwargs)
    released = {predicted: outputs for outputs, (_, predicted, _) in _LABEL_SETS.items()}
    if label_set not in released:
        raise LabelSetMismatchError(
            "no released weights of %s predict the %s labels: the authors' CIFAR-100 weights "
            "predict the 20 coarse superclasses; use label set 'cifar100-coarse', or a "
            'checkpoint trained on %s' % (name, label_set, label_set))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', CoarseLabelWarning)  # the coarse labels were asked for
        return get_model(name, classes=released[label_set], pretrained=True, ctx=ctx, root=root,
                         **kwargs)
