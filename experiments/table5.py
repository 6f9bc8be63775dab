"""``gluon-pydmn table5`` (:mod:`gluon_pydmn.commands.table5`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/table5.py ARGS`` runs ``gluon-pydmn table5 ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['table5'] + sys.argv[1:]))
