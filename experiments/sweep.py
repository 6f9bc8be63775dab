"""``gluon-pydmn sweep`` (:mod:`gluon_pydmn.commands.sweep`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/sweep.py ARGS`` runs ``gluon-pydmn sweep ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['sweep'] + sys.argv[1:]))
