"""``gluon-pydmn train`` (:mod:`gluon_pydmn.commands.train`), kept for command lines written before
the tool: ``python experiments/train.py ARGS`` runs ``gluon-pydmn train ARGS``, with the old
spellings ``--out-dir DIR`` and ``--gpu N`` rewritten to ``--out DIR`` and ``--ctx gpu:N``."""
import sys

from gluon_pydmn.commands import script_main

if __name__ == '__main__':
    sys.exit(script_main('train'))
