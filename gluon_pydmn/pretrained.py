"""The authors' released weights: where they come from, and finding, checking, converting and
fetching them.

:func:`pretrained_cfg` describes the weights of a zoo model (:class:`PretrainedCfg`: the
release files, the label set they predict); :func:`authors_graph` loads the authors' own graph.
A weights root is either

* a folder of **converted** files, ``<model>-<dataset>.params`` (this
  package's own format, written by ``gluon-pydmn download weights
  --convert``), or
* a folder laid out like **the authors' release** (``<family>/<dataset>_<stem>
  -symbol.json`` and ``-0000.params``, as in their repository's ``models/``
  folder), converted on load; a clone of their repository also works.

Every release file is checked against the SHA-1 recorded in
``authors_release_sha1.json`` before use.

Command line (also ``python -m gluon_pydmn.pretrained download [DIR]`` and ``convert SRC
[DST]``)::

    gluon-pydmn download weights [--weights-root DIR]            # fetch the release (internet)
    gluon-pydmn download weights --convert SRC --weights-root DST  # SRC: release, DST: converted

``DIR`` and ``DST`` default to :func:`default_weights_root`.
"""
import hashlib
import json
import os
import sys
import warnings
from dataclasses import dataclass

import mxnet as mx
from tqdm import tqdm

from . import cli
from .catalog import LABEL_SETS, MODEL_CFGS, label_set, model_cfg
from .cifar_net import CIFARNet
from .convert import load_authors_params
from .data import CIFAR_MEAN, CIFAR_STD
from .errors import ConversionError, LabelSetMismatchError, WeightsNotFoundError
from .utils import atomic_path, cache_dir, download

__all__ = ['ENV_WEIGHTS', 'AUTHORS_RELEASE', 'AUTHORS_RELEASE_URL', 'RELEASE_SHA1',
           'RELEASED_LABEL_SETS', 'PretrainedCfg', 'WeightsNotFoundError', 'pretrained_cfg',
           'released_label_set', 'default_weights_root', 'find_weights', 'load_pretrained',
           'authors_graph', 'download_release', 'convert_release']

ENV_WEIGHTS = 'GLUON_PYDMN_WEIGHTS'
AUTHORS_RELEASE = 'thanhhvnqb/pydmobilenet_mxnet'
AUTHORS_RELEASE_URL = 'https://github.com/' + AUTHORS_RELEASE
RELEASE_RAW_URL = 'https://raw.githubusercontent.com/%s/master/models/' % AUTHORS_RELEASE

# File stem of each family in the authors' release, formatted with depth and alpha.
RELEASE_STEMS = {
    'resnet': 'resnet{depth}',
    'mobilenet': 'mobilenet{depth}_{alpha}',
    'pydmobilenet_add': 'pydmobilenet{depth}_{alpha}_plus',
    'pydmobilenet_concat': 'pydmobilenet{depth}_{alpha}_concat',
}

# The label sets the authors released weights for, in the order of their head widths 10, 100.
RELEASED_LABEL_SETS = ('cifar10', 'cifar100-coarse')

with open(os.path.join(os.path.dirname(__file__), 'authors_release_sha1.json')) as _f:
    RELEASE_SHA1 = json.load(_f)


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
    def class_names(self):
        """The names of the labels the weights predict, in output order (outputs beyond them,
        e.g. 20-99 of the coarse-label CIFAR-100 weights, have none)."""
        return label_set(self.label_set).class_names

    @property
    def converted_file(self):
        """File name of the converted weights (this package's own format)."""
        return '%s-%s.params' % (self.model, self.dataset)


def pretrained_cfg(name, classes=10):
    """The :class:`PretrainedCfg` of zoo model ``name`` for ``classes`` outputs (10 or 100)."""
    cfg = model_cfg(name)
    released = {LABEL_SETS[n].head_width: LABEL_SETS[n] for n in RELEASED_LABEL_SETS}
    if classes not in released:
        raise ValueError(
            'pretrained weights exist for classes=10 (CIFAR-10) and classes=100 (CIFAR-100), '
            'not classes=%r. To fine-tune to %r classes, load the CIFAR-10 weights and replace '
            'the classifier: net = get_model(%r, pretrained=True); net.reset_classifier(%r) '
            '(see docs/finetuning.md)' % (classes, classes, name, classes))
    labels = released[classes]
    stem = '%s_%s' % (labels.dataset,
                      RELEASE_STEMS[cfg.family].format(depth=cfg.depth, alpha=cfg.alpha))
    return PretrainedCfg(
        model=name, dataset=labels.dataset, label_set=labels.name, num_outputs=classes,
        num_labels=labels.num_labels, mean=CIFAR_MEAN, std=CIFAR_STD,
        release_files=('%s/%s-symbol.json' % (cfg.family, stem),
                       '%s/%s-0000.params' % (cfg.family, stem)),
        source='authors\' release %s, converted by gluon_pydmn' % AUTHORS_RELEASE_URL)


def released_label_set(name, model=None):
    """The :class:`~gluon_pydmn.catalog.LabelSet` called ``name`` if the authors released
    weights for it; :class:`~gluon_pydmn.errors.LabelSetMismatchError` otherwise."""
    labels = label_set(name)
    if labels.name not in RELEASED_LABEL_SETS:
        raise LabelSetMismatchError(
            "no released weights of %s predict the %s labels: the authors' CIFAR-100 weights "
            "predict the 20 coarse superclasses; use label set 'cifar100-coarse', or a "
            'checkpoint trained on %s' % (model or 'the zoo', labels.name, labels.name))
    return labels


def default_weights_root():
    """``$GLUON_PYDMN_WEIGHTS``, else ``~/.cache/gluon_pydmn/weights``."""
    return os.environ.get(ENV_WEIGHTS) or os.path.join(cache_dir(), 'weights')


def _sha1(path):
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def check_release_file(path, relpath):
    """Raise ConversionError unless ``path`` has the SHA-1 of release file ``relpath``."""
    expected = RELEASE_SHA1.get(relpath)
    if expected is not None and _sha1(path) != expected:
        raise ConversionError('%s is corrupt or not the authors\' file %s (SHA-1 mismatch); '
                              'delete it and fetch it again (gluon-pydmn download weights)' % (path, relpath))


def find_weights(pcfg, root=None):
    """Locate the weights of a :class:`PretrainedCfg`.

    Returns
    -------
    tuple
        ``('converted', params_path)`` or ``('release', symbol_path, params_path)``.

    Raises
    ------
    WeightsNotFoundError
        Naming every place looked at and how to obtain the files.
    """
    root = os.path.expanduser(root or default_weights_root())
    converted = os.path.join(root, pcfg.converted_file)
    if os.path.isfile(converted):
        return ('converted', converted)
    tried = [converted]
    for base in (root, os.path.join(root, 'models')):
        paths = [os.path.join(base, rel) for rel in pcfg.release_files]
        if all(os.path.isfile(p) for p in paths):
            return ('release',) + tuple(paths)
        tried += paths
    raise WeightsNotFoundError(
        'pretrained weights for %s (%s) not found; looked for:\n\t%s\n'
        'Point root= or $%s at a folder of converted files or at a copy of the authors\' '
        'release (%s, folder models/), or run `gluon-pydmn download weights` to fetch the release.'
        % (pcfg.model, pcfg.dataset, '\n\t'.join(tried), ENV_WEIGHTS, pcfg.source))


def load_pretrained(net, pcfg, root=None, ctx=None):
    """Load the weights described by ``pcfg`` into ``net`` (converting on load if needed)."""
    found = find_weights(pcfg, root)
    if found[0] == 'converted':
        try:
            net.load_parameters(found[1], ctx=ctx)
        except (AssertionError, mx.base.MXNetError) as e:
            raise ConversionError('cannot load %s into %s: %s; delete it and convert again'
                                  % (found[1], pcfg.model, str(e).splitlines()[0])) from e
        return
    symbol_path, params_path = found[1:]
    for path, rel in zip((symbol_path, params_path), pcfg.release_files):
        check_release_file(path, rel)
    load_authors_params(net, symbol_path, params_path, ctx=ctx)


def authors_graph(name, root=None, ctx=None, classes=10):
    """The authors' released graph of zoo model ``name`` (CIFAR-10, or 100) as a SymbolBlock.

    ``root`` must be laid out like the authors' release (default :func:`default_weights_root`).
    """
    root = root or default_weights_root()
    sym, params = (os.path.join(root, f) for f in pretrained_cfg(name, classes).release_files)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return mx.gluon.nn.SymbolBlock.imports(sym, ['data'], params, ctx=ctx or mx.cpu())


def download_release(dst, files=None, progress=True):
    """Fetch the authors' release files into ``dst`` (SHA-1 checked, atomic writes).

    Needs internet access to GitHub.
    """
    files = files or sorted(RELEASE_SHA1)
    for rel in files:
        path = os.path.join(dst, rel)
        if os.path.isfile(path) and _sha1(path) == RELEASE_SHA1[rel]:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if progress:
            print('fetching', rel, file=sys.stderr)
        download(RELEASE_RAW_URL + rel, path, WeightsNotFoundError,
                 "copy the authors' release files there yourself",
                 check=lambda tmp, rel=rel: check_release_file(tmp, rel))


def convert_release(src, dst, names=None, progress=True):
    """Convert the authors' release in ``src`` into this package's files in ``dst``.

    Returns the list of files written.
    """
    jobs = [(name, LABEL_SETS[ls].head_width) for name in (names or list(MODEL_CFGS))
            for ls in RELEASED_LABEL_SETS]
    written = []
    os.makedirs(dst, exist_ok=True)
    for name, classes in tqdm(jobs, desc='converting', disable=not progress):
        cfg, pcfg = model_cfg(name), pretrained_cfg(name, classes)
        net = CIFARNet(cfg.main, cfg.depth, cfg.multiplier, classes=classes)
        load_pretrained(net, pcfg, root=src)
        out = os.path.join(dst, pcfg.converted_file)
        with atomic_path(out) as tmp:
            net.save_parameters(tmp)
        written.append(out)
    return written


def main(argv=None):
    """``python -m gluon_pydmn.pretrained download|convert ...``, as ``gluon-pydmn download
    weights [--convert SRC]``."""
    parser = cli.parser(__doc__)
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('download', help='fetch the authors\' release (needs internet)')
    where = 'default $%s, else ~/.cache/gluon_pydmn/weights' % ENV_WEIGHTS
    p.add_argument('dst', nargs='?', default=None, help=where)
    p = sub.add_parser('convert', help='convert a release folder into converted files')
    p.add_argument('src')
    p.add_argument('dst', nargs='?', default=None, help=where)
    args = parser.parse_args(argv)
    dst = args.dst or default_weights_root()
    if args.cmd == 'download':
        download_release(dst)
        print(dst)
        return [dst]
    written = convert_release(args.src, dst)
    for path in written:
        print(path)
    return written


if __name__ == '__main__':
    cli.run(main)
