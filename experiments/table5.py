"""``gluon-pydmn table5`` (:mod:`gluon_pydmn.commands.table5`), kept for command lines written before
the tool: ``python experiments/table5.py ARGS`` runs ``gluon-pydmn table5 ARGS``, with the old
spellings ``--out-dir DIR`` and ``--gpu N`` rewritten to ``--out DIR`` and ``--ctx gpu:N``."""
import sys

from gluon_pydmn.commands import script_main

if __name__ == '__main__':
    sys.exit(script_main('table5'))
