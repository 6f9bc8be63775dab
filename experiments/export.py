"""``gluon-pydmn export`` (:mod:`gluon_pydmn.commands.export`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/export.py ARGS`` runs ``gluon-pydmn export ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['export'] + sys.argv[1:]))
