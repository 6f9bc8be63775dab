"""Tooling that reproduces the paper's results with the model library.

* :mod:`~gluon_pydmn.reproduce.paper`: the paper's published numbers (Tables 3-5, the
  training schema, Figure 2's description);
* :mod:`~gluon_pydmn.reproduce.table3`: Table 3 measured with the converted weights;
* :mod:`~gluon_pydmn.reproduce.tradeoff`: the trade-off plot (error against #params and
  FLOPs) drawn from the reproduced Table 3;
* :mod:`~gluon_pydmn.reproduce.benchmark`, :mod:`~gluon_pydmn.reproduce.timing`: training and
  inference timing of Table 5's networks.

The scripts in ``experiments/`` drive them (``make reproduce-table3``, ``make tradeoff``,
``make benchmark``).
"""
