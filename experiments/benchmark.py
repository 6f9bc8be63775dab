"""``gluon-pydmn benchmark`` (:mod:`gluon_pydmn.commands.benchmark`), kept for command lines written before
the tool: ``python experiments/benchmark.py ARGS`` runs ``gluon-pydmn benchmark ARGS``, with the old
spellings ``--out-dir DIR`` and ``--gpu N`` rewritten to ``--out DIR`` and ``--ctx gpu:N``."""
import sys

from gluon_pydmn.commands import script_main

if __name__ == '__main__':
    sys.exit(script_main('benchmark'))
