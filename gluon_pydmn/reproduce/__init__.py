"""Tooling that reproduces the paper's results with the model library.

* :mod:`~gluon_pydmn.reproduce.paper`: the paper's published numbers (Tables 3-5, the
  training schema, Figure 2's description);
* :mod:`~gluon_pydmn.reproduce.table3`: Table 3 measured with the converted weights;
* :mod:`~gluon_pydmn.reproduce.tradeoff`: the trade-off plot (error against #params, FLOPs
  and CPU time) drawn from the reproduced Tables 3 and 5;
* :mod:`~gluon_pydmn.reproduce.table5`: Table 5, inference time on the CPU or a GPU, in the
  paper's layout;
* :mod:`~gluon_pydmn.reproduce.benchmark`, :mod:`~gluon_pydmn.reproduce.timing`: training and
  inference timing of Table 5's networks;
* :mod:`~gluon_pydmn.reproduce.figure2`: the paper's Figure 2 from training run folders;
* :mod:`~gluon_pydmn.reproduce.run_index`: the index of committed training runs;
* :mod:`~gluon_pydmn.reproduce.sweep`: Table 3 trained from scratch, as Ray tasks.

The subcommands of ``gluon-pydmn`` (:mod:`gluon_pydmn.commands`) drive them: ``table3``,
``tradeoff``, ``table5``, ``benchmark``, ``figure2``, ``runs``, ``signature``, ``sweep``.
"""
