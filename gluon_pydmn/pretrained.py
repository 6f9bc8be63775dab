"""Finding, checking, converting and fetching the authors' released weights.

A weights root is either

* a folder of **converted** files, ``<model>-<dataset>.params`` (this
  package's own format, written by ``python -m gluon_pydmn.pretrained
  convert``), or
* a folder laid out like **the authors' release** (``<family>/<dataset>_<stem>
  -symbol.json`` and ``-0000.params``, as in their repository's ``models/``
  folder), converted on load; a clone of their repository also works.

Every release file is checked against the SHA-1 recorded in
``authors_release_sha1.json`` before use.

Command line (``make pretrained``)::

    python -m gluon_pydmn.pretrained download DIR   # fetch the release (needs internet)
    python -m gluon_pydmn.pretrained convert SRC DST # SRC: release folder, DST: converted files
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.request

import mxnet as mx

from .convert import ConversionError, load_authors_params
from .utils import atomic_path, cache_dir

__all__ = ['ENV_WEIGHTS', 'RELEASE_SHA1', 'WeightsNotFoundError', 'default_weights_root',
           'find_weights', 'load_pretrained', 'download_release', 'convert_release']

ENV_WEIGHTS = 'GLUON_PYDMN_WEIGHTS'
RELEASE_RAW_URL = 'https://raw.githubusercontent.com/thanhhvnqb/pydmobilenet_mxnet/master/models/'

with open(os.path.join(os.path.dirname(__file__), 'authors_release_sha1.json')) as _f:
    RELEASE_SHA1 = json.load(_f)


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights are not where they were looked for."""


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
                              'delete it and fetch it again (make pretrained)' % (path, relpath))


def find_weights(pcfg, root=None):
    """Locate the weights of a :class:`~gluon_pydmn.model_zoo.PretrainedCfg`.

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
        'release (%s, folder models/), or run `make pretrained` to fetch and convert it.'
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


def download_release(dst, files=None, progress=True):
    """Fetch the authors' release files into ``dst`` (SHA-1 checked, atomic writes).

    Needs internet access to GitHub. The project's offline machines test this code against a
    local mirror of the release (``tests/test_download.py``), not against GitHub itself.
    """
    files = files or sorted(RELEASE_SHA1)
    for rel in files:
        path = os.path.join(dst, rel)
        if os.path.isfile(path) and _sha1(path) == RELEASE_SHA1[rel]:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if progress:
            print('fetching', rel, file=sys.stderr)
        url = RELEASE_RAW_URL + rel
        try:
            with atomic_path(path) as tmp:
                urllib.request.urlretrieve(url, tmp)
                check_release_file(tmp, rel)
        except OSError as e:  # URLError, HTTPError and ContentTooShortError are OSErrors
            raise WeightsNotFoundError(
                'could not download %s into %s (%s): check the connection, or copy the '
                'authors\' release files there yourself' % (url, dst, e)) from e


def convert_release(src, dst, names=None, progress=True):
    """Convert the authors' release in ``src`` into this package's files in ``dst``.

    Returns the list of files written.
    """
    from tqdm import tqdm
    from .model_zoo import MODEL_CFGS, get_cifar_net, get_model_list, pretrained_cfg

    jobs = [(name, classes) for name in (names or get_model_list()) for classes in (10, 100)]
    written = []
    os.makedirs(dst, exist_ok=True)
    for name, classes in tqdm(jobs, desc='converting', disable=not progress):
        cfg, pcfg = MODEL_CFGS[name], pretrained_cfg(name, classes)
        net = get_cifar_net(cfg.family, cfg.depth, cfg.multiplier, classes, initialize=False)
        load_pretrained(net, pcfg, root=src)
        out = os.path.join(dst, pcfg.converted_file)
        with atomic_path(out) as tmp:
            net.save_parameters(tmp)
        written.append(out)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m gluon_pydmn.pretrained', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('download', help='fetch the authors\' release (needs internet)')
    p.add_argument('dst', nargs='?', default=os.path.join(tempfile.gettempdir(), 'pydmobilenet_release'))
    p = sub.add_parser('convert', help='convert a release folder into converted files')
    p.add_argument('src')
    p.add_argument('dst', nargs='?', default=None, help='default: $%s or ~/.cache' % ENV_WEIGHTS)
    args = parser.parse_args(argv)
    if args.cmd == 'download':
        download_release(args.dst)
        print(args.dst)
    else:
        for path in convert_release(args.src, args.dst or default_weights_root()):
            print(path)


if __name__ == '__main__':
    main()
