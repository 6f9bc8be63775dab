"""``gluon-pydmn evaluate`` (:mod:`gluon_pydmn.commands.evaluate`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/evaluate.py ARGS`` runs ``gluon-pydmn evaluate ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['evaluate'] + sys.argv[1:]))
