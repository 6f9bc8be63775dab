"""``gluon-pydmn benchmark`` (:mod:`gluon_pydmn.commands.benchmark`), kept for command lines written
before the ``gluon-pydmn`` tool: ``python experiments/benchmark.py ARGS`` runs ``gluon-pydmn benchmark ARGS``."""
import sys

from gluon_pydmn import cli

if __name__ == '__main__':
    sys.exit(cli.main(['benchmark'] + sys.argv[1:]))
