"""``gluon-pydmn signature`` (:mod:`gluon_pydmn.commands.signature`), kept for command lines written before
the tool: ``python experiments/signature.py ARGS`` runs ``gluon-pydmn signature ARGS``, with the old
spellings ``--out-dir DIR`` and ``--gpu N`` rewritten to ``--out DIR`` and ``--ctx gpu:N``."""
import sys

from gluon_pydmn.commands import script_main

if __name__ == '__main__':
    sys.exit(script_main('signature'))
