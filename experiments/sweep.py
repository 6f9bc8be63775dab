"""``gluon-pydmn sweep`` (:mod:`gluon_pydmn.commands.sweep`), kept for command lines written before
the tool: ``python experiments/sweep.py ARGS`` runs ``gluon-pydmn sweep ARGS``, with the old
spellings ``--out-dir DIR`` and ``--gpu N`` rewritten to ``--out DIR`` and ``--ctx gpu:N``."""
import sys

from gluon_pydmn.commands import script_main

if __name__ == '__main__':
    sys.exit(script_main('sweep'))
