"""``gluon-pydmn runs`` (:mod:`gluon_pydmn.commands.runs`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/index_runs.py ARGS`` runs ``gluon-pydmn runs ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['runs'] + sys.argv[1:]))
