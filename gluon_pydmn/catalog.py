"""What the zoo holds: the architectures of Table 3 and the label sets networks are trained on.

This module depends on nothing else in the package; the pretrained weights
(:mod:`gluon_pydmn.pretrained`) and the model zoo (:mod:`gluon_pydmn.model_zoo`) build on it.

Names follow ``<family>_<depth>_<multiplier>``, e.g. ``mobilenet_56_1`` or
``pydmobilenet_concat_56_0.75``.

A **label set** is a dataset's images with one of its label columns. CIFAR-100 has two:
the 100 fine classes (the standard benchmark) and the 20 coarse superclasses. The authors'
CIFAR-100 weights have a 100-output dense layer trained on the coarse labels, and the paper's
"CIFAR-100" column is their error on those 20 classes; ``cifar100-coarse`` reproduces that
protocol, head width included.
"""
import re
from dataclasses import dataclass

from .errors import UnknownNameError

__all__ = ['Family', 'FAMILIES', 'ModelCfg', 'MODEL_CFGS', 'model_cfg', 'display_name',
           'LabelSet', 'LABEL_SETS', 'label_set']


@dataclass(frozen=True)
class Family:
    """A block type of the paper: the main part of its blocks and its name in the paper."""
    main: str
    paper_name: str


FAMILIES = {
    'resnet': Family('conv', 'ResNet'),
    'mobilenet': Family('depthwise', 'MobileNet'),
    'pydmobilenet_add': Family('pyramid_add', 'PydMobileNet-Add'),
    'pydmobilenet_concat': Family('pyramid_concat', 'PydMobileNet-Concat'),
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


MODEL_CFGS = {cfg.name: cfg for cfg in (ModelCfg(family, depth, alpha)
                                        for depth in (29, 56)
                                        for family, alphas in _TABLE3
                                        for alpha in alphas)}


def model_cfg(name):
    """The :class:`ModelCfg` of zoo model ``name``; an unknown name lists the valid ones."""
    try:
        return MODEL_CFGS[name]
    except (KeyError, TypeError):
        raise UnknownNameError('unknown model %r; valid names are:\n\t%s\nFor other depths or '
                               'widths use gluon_pydmn.get_cifar_net(family, depth, multiplier).'
                               % (name, '\n\t'.join(MODEL_CFGS))) from None


def display_name(model):
    """The paper's name of a zoo network (``PydMobileNet-Concat-56-0.25``), a readable one for
    GluonCV's CIFAR ResNets (``ResNet-110 (pre-activation, GluonCV)`` for ``cifar_resnet110_v2``);
    others as they are."""
    cfg = MODEL_CFGS.get(model)
    if cfg is not None:
        return cfg.paper_name
    resnet = re.fullmatch(r'cifar_resnet(\d+)_v([12])', model or '')
    if resnet:
        return 'ResNet-%s (%sGluonCV)' % (resnet.group(1), 'pre-activation, '
                                         if resnet.group(2) == '2' else '')
    return model


@dataclass(frozen=True)
class LabelSet:
    """One dataset's images with one of its label columns.

    Attributes
    ----------
    name : str
        ``'cifar10'``, ``'cifar100-fine'`` or ``'cifar100-coarse'``.
    dataset : str
        The images: ``'cifar10'`` or ``'cifar100'``.
    num_labels : int
        Classes in the labels (10, 100 or 20).
    head_width : int
        Outputs of the dense layer of a network trained on this label set (10 or 100): a
        ``cifar100-coarse`` network has 100 outputs, as the authors' CIFAR-100 weights.
    paper_column : str or None
        The column of the paper's Table 3 that reports errors on this label set, or None
        (the paper reports none on the fine labels).
    class_names : tuple of str
        The name of each label, in label order, as the dataset's own label-name files give
        them (``batches.meta.txt``, ``fine_label_names.txt``, ``coarse_label_names.txt``).
    """
    name: str
    dataset: str
    num_labels: int
    head_width: int
    paper_column: str = None
    class_names: tuple = ()


CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                   'ship', 'truck')
CIFAR100_FINE_CLASSES = tuple("""
    apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
    butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch
    crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
    keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
    mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
    porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper
    snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
    tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split())
CIFAR100_COARSE_CLASSES = tuple("""
    aquatic_mammals fish flowers food_containers fruit_and_vegetables
    household_electrical_devices household_furniture insects large_carnivores
    large_man-made_outdoor_things large_natural_outdoor_scenes large_omnivores_and_herbivores
    medium_mammals non-insect_invertebrates people reptiles small_mammals trees vehicles_1
    vehicles_2""".split())

LABEL_SETS = {ls.name: ls for ls in (
    LabelSet('cifar10', 'cifar10', 10, 10, 'cifar10_error', CIFAR10_CLASSES),
    LabelSet('cifar100-fine', 'cifar100', 100, 100, None, CIFAR100_FINE_CLASSES),
    LabelSet('cifar100-coarse', 'cifar100', 20, 100, 'cifar100_error', CIFAR100_COARSE_CLASSES),
)}


def label_set(name):
    """The :class:`LabelSet` called ``name``; an unknown name lists the valid ones."""
    try:
        return LABEL_SETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError('unknown label set %r; choose one of %s'
                               % (name, ', '.join(LABEL_SETS))) from None
