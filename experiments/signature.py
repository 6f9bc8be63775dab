"""``gluon-pydmn signature`` (:mod:`gluon_pydmn.commands.signature`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/signature.py ARGS`` runs ``gluon-pydmn signature ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['signature'] + sys.argv[1:]))
