"""Verdicts on the paper's comparisons between networks, from our own training runs.

    gluon-pydmn claims                  # results/claims.md and claims.png

"PydMobileNets are slightly better than MobileNets" (MobileNet-29-0.5) and "addition and
concatenation are comparable" (PydMobileNet-Add-29-0.5), each tested by a full-schema run
against the two seeds of PydMobileNet-Concat-29-0.25, with the rule of
gluon_pydmn.reproduce.claims. Reads the run folders under --root and the measured Table 3
(--table3, written by `gluon-pydmn table3`); writes OUT/claims.md and, in OUT/claims.png, the
runs' training loss and test error per epoch. A run still training gets no verdict; its curves
are drawn as far as they go.
"""
import os

from .. import cli
from ..errors import UserError
from ..reproduce import table3
from ..reproduce.claims import CURVES_ERROR_RANGE, claim_run_folders, claims_markdown
from ..reproduce.figure2 import save_training_curves
from ..reproduce.paper import load_paper_tables
from ..utils import write_text

__all__ = ['add_arguments', 'run', 'main']


def add_arguments(p):
    """Add the options of ``gluon-pydmn claims`` to the parser ``p``."""
    p.add_argument('--root', default='results/training', metavar='DIR',
                   help='folder of the run folders (default %(default)s)')
    p.add_argument('--table3', default='results/table3.csv', metavar='FILE',
                   help="the measured Table 3, for the released weights' errors and #params "
                        '(default %(default)s)')
    cli.add_out(p, 'folder of claims.md and claims.png (default %(default)s)', default='results',
                metavar='DIR')
    cli.add_paper_tables(p)


main = cli.command_main(__name__)


def run(args):
    """Write ``OUT/claims.md`` (and print it) and ``OUT/claims.png``; return the text."""
    if not os.path.isfile(args.table3):
        raise UserError('--table3 %s: no such file; write it with `gluon-pydmn table3 --out '
                        'results`' % args.table3)
    tables = load_paper_tables(args.paper_tables)
    command = cli.command_line(args)
    try:
        text = claims_markdown(args.root, table3.read_csv(args.table3), tables, command)
    except ValueError as e:
        raise UserError(str(e)) from None
    write_text(os.path.join(args.out, 'claims.md'), text)
    print(text)
    save_training_curves(claim_run_folders(args.root), os.path.join(args.out, 'claims.png'),
                         command, tables, CURVES_ERROR_RANGE)
    return text
