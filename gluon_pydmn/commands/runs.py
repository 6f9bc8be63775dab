"""Index the training runs of a folder in its README.md.

    gluon-pydmn runs                    # make training-index

One row per run folder: network, data, schema (the paper's full one or compressed), epochs
done, test error at the last and at the best epoch, and the paper's Table 3 error for the
network where it has one; read from each folder's run.json and state.json, under --root
(default results/training); writes --out (default ROOT/README.md). Folders written by older
versions are refused, naming `python -m gluon_pydmn.migrate`, which rewrites them.
"""
import os

from .. import cli
from ..errors import UserError
from ..reproduce.paper import load_paper_tables
from ..reproduce.run_index import index_markdown
from ..utils import write_text

__all__ = ['add_arguments', 'run', 'main']


def add_arguments(p):
    """Add the options of ``gluon-pydmn runs`` to the parser ``p``."""
    p.add_argument('--root', default='results/training', metavar='DIR',
                   help='folder of run folders (default %(default)s)')
    cli.add_out(p, 'markdown file (default ROOT/README.md)')


main = cli.command_main(__name__)


def run(args):
    """Write the index of the run folders under ``args.root`` and print it.

    Raises
    ------
    UserError
        ``--root`` is not a folder.
    """
    if not os.path.isdir(args.root):
        raise UserError('--root %s: %s; give the folder holding the run folders (default '
                        'results/training)' % (args.root, 'not a folder' if os.path.exists(
                            args.root) else 'no such folder'))
    text = index_markdown(args.root, cli.command_line(args), load_paper_tables())
    out = args.out or os.path.join(args.root, 'README.md')
    write_text(out, text)
    print(text)
