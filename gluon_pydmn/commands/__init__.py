"""The subcommands of ``gluon-pydmn`` (:func:`gluon_pydmn.cli.main`), one module each.

Each module's docstring is its help (the first line is its line in ``gluon-pydmn --help``);
it defines ``add_arguments(parser)``, ``run(args)``, which returns the subcommand's result,
and ``main(argv=None)``, which parses ``argv`` and runs (for tests and Python callers).
Optional: ``exit_status(result)`` (the process's exit status) and ``ERRORS`` (exceptions
besides :class:`~gluon_pydmn.errors.UserError` reported as one ``error:`` line).
"""

#: The subcommands in the order ``gluon-pydmn --help`` lists them, each the name of a module
#: of this package: adding a subcommand is adding its module and its line here.
COMMANDS = [
    'download',
    'train',
    'finetune',
    'evaluate',
    'predict',
    'export',
    'table3',
    'table5',
    'tradeoff',
    'figure2',
    'runs',
    'signature',
    'benchmark',
    'sweep',
    'selfcheck',
]
