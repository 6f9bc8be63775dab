"""``python -m gluon_pydmn SUB ...``: the ``gluon-pydmn`` command line (:func:`gluon_pydmn.commands.main`)."""
import sys

from .commands import main

if __name__ == '__main__':
    sys.exit(main())
