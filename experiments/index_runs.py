"""List the training runs committed under results/training in results/training/README.md.

    python experiments/index_runs.py            # make training-index

One row per run folder: network, data, schema (the paper's full one or compressed), epochs
done, test error at the last and at the best epoch, and the paper's Table 3 error for the
network where it has one. Read from each folder's run.json and history.csv. Each folder's
summary.md gets its tables rewritten from its history.csv in the current layout (the lines
above them, with the command that trained the run, stay).
"""
import os
import sys

from gluon_pydmn import cli
from gluon_pydmn.errors import NotARunFolderError
from gluon_pydmn.reproduce.paper import load_paper_tables
from gluon_pydmn.reproduce.run_index import index_markdown, run_folders
from gluon_pydmn.run_folder import HISTORY_FILE, SUMMARY_FILE, refresh_summary
from gluon_pydmn.utils import command_line, write_text


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument('--root', default='results/training', help='folder of run folders (default %(default)s)')
    p.add_argument('--out', help='markdown file (default ROOT/README.md)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for folder in run_folders(args.root):
        if all(os.path.isfile(os.path.join(folder, f)) for f in (HISTORY_FILE, SUMMARY_FILE)):
            try:
                if refresh_summary(folder):
                    print('rewrote the tables of %s' % os.path.join(folder, SUMMARY_FILE))
            except NotARunFolderError as e:
                print('left as it is: %s' % e, file=sys.stderr)
    text = index_markdown(args.root, command_line(__file__, argv), load_paper_tables())
    out = args.out or os.path.join(args.root, 'README.md')
    write_text(out, text)
    print(text)


if __name__ == '__main__':
    cli.run(main)
