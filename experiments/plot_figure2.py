"""``gluon-pydmn figure2`` (:mod:`gluon_pydmn.commands.figure2`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/plot_figure2.py ARGS`` runs ``gluon-pydmn figure2 ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['figure2'] + sys.argv[1:]))
