"""``gluon-pydmn train`` (:mod:`gluon_pydmn.commands.train`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/train.py ARGS`` runs ``gluon-pydmn train ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['train'] + sys.argv[1:]))
