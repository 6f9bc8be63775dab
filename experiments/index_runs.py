"""List the training runs committed under results/training in results/training/README.md.

    python experiments/index_runs.py            # make training-index

One row per run folder: network, data, schema (the paper's full one or compressed), epochs
done, test error at the last and at the best epoch, and the paper's Table 3 error for the
network where it has one; read from each folder's run.json and state.json. Folders written
by older versions are refused, naming `python -m gluon_pydmn.migrate`, which rewrites them.
"""
import os

from gluon_pydmn import cli
from gluon_pydmn.errors import UserError
from gluon_pydmn.reproduce.paper import load_paper_tables
from gluon_pydmn.reproduce.run_index import index_markdown
from gluon_pydmn.utils import command_line, write_text


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument('--root', default='results/training',
                   help='folder of run folders (default %(default)s)')
    p.add_argument('--out', help='markdown file (default ROOT/README.md)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        raise UserError('--root %s: %s; give the folder holding the run folders (default '
                        'results/training)' % (args.root, 'not a folder' if os.path.exists(
                            args.root) else 'no such folder'))
    text = index_markdown(args.root, command_line(__file__, argv), load_paper_tables())
    out = args.out or os.path.join(args.root, 'README.md')
    write_text(out, text)
    print(text)


if __name__ == '__main__':
    cli.run(main)
