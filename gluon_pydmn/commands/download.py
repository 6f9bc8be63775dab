"""Fetch CIFAR-10/100 or the authors' released weights.

    gluon-pydmn download data              # into --data-root, default $GLUON_PYDMN_DATA
    gluon-pydmn download weights           # the authors' release, into $GLUON_PYDMN_WEIGHTS
    gluon-pydmn download weights --convert release/ --weights-root converted/   # offline

`data` fetches (if missing) and extracts the official CIFAR-10 and CIFAR-100 binary archives
into --data-root. `weights` fetches the authors' release (SHA-1 checked, atomic writes) into
--weights-root, where every command finds it (converted on load); with --convert DIR it
instead converts the release already in DIR into this package's own files in --weights-root,
offline. Where the files go and how to work offline: docs/data-and-weights.md.
"""
import argparse
import contextlib
import os

from .. import cli
from ..data import default_data_root, download
from ..pretrained import convert_release, default_weights_root, download_release

__all__ = ['add_arguments', 'run', 'main']


def add_arguments(p):
    """Add the two targets of ``gluon-pydmn download`` (``data``, ``weights``) to ``p``."""
    sub = p.add_subparsers(dest='what', metavar='WHAT', title='what to fetch', required=True)
    data = sub.add_parser('data', help='CIFAR-10 and CIFAR-100, official binary archives',
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_data_root(data, help='where the archives are extracted (default $GLUON_PYDMN_DATA, '
                                 'else ~/.cache/gluon_pydmn/data)')
    cli.add_no_progress(data)
    weights = sub.add_parser('weights', help="the authors' released weights",
                             description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_weights_root(weights, help="where the release (or with --convert the converted "
                                       'files) goes (default $GLUON_PYDMN_WEIGHTS, else '
                                       '~/.cache/gluon_pydmn/weights)')
    weights.add_argument('--convert', metavar='DIR',
                         help="convert the authors' release in DIR into this package's files in "
                              '--weights-root instead of downloading (offline)')
    cli.add_no_progress(weights)


main = cli.command_main(__name__)


def run(args):
    """Fetch (or convert) what ``args.what`` names; print and return the folders or files.

    Returns
    -------
    list of str
        ``data``: the extracted folders; ``weights``: the release folder, or with
        ``--convert`` the converted files.
    """
    progress = not args.no_progress
    if args.what == 'data':
        with _progress_lines(progress):  # 'downloading <url> into <folder>'
            written = download(args.data_root or default_data_root())
    elif args.convert:
        written = convert_release(args.convert, args.weights_root or default_weights_root(),
                                  progress=progress)
    else:
        dst = args.weights_root or default_weights_root()
        download_release(dst, progress=progress)
        written = [dst]
    for path in written:
        print(path)
    return written


@contextlib.contextmanager
def _progress_lines(shown):
    """Progress lines on stderr as they come, or (not ``shown``) none; errors are raised, so
    none is lost."""
    if shown:
        yield
        return
    with open(os.devnull, 'w') as devnull, contextlib.redirect_stderr(devnull):
        yield
