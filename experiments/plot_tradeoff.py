"""``gluon-pydmn tradeoff`` (:mod:`gluon_pydmn.commands.tradeoff`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/plot_tradeoff.py ARGS`` runs ``gluon-pydmn tradeoff ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['tradeoff'] + sys.argv[1:]))
