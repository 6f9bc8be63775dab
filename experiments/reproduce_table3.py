"""``gluon-pydmn table3`` (:mod:`gluon_pydmn.commands.table3`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/reproduce_table3.py ARGS`` runs ``gluon-pydmn table3 ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['table3'] + sys.argv[1:]))
