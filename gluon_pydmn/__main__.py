"""``python -m gluon_pydmn SUB ...``: the ``gluon-pydmn`` command line (:func:`gluon_pydmn.cli.main`)."""
import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
