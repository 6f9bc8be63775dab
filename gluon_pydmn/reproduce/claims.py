"""The paper's two comparisons between networks, tested by our own full-schema training.

Each claim compares a candidate network's run with the two seeds of PydMobileNet-Concat-29-0.25
(:data:`REFERENCE_RUNS`), by a rule fixed before the candidates' results were in
(docs/reproduction.md): the spread of the two reference seeds' best-epoch errors is what one
seed can move, so

- ``'worse'``: the claim holds if the candidate's best-epoch error is above the worse reference
  seed by more than that spread ("PydMobileNets are slightly better than MobileNets");
- ``'within'``: it holds if the candidate lies within that spread of the reference seeds' mean
  ("addition and concatenation ... are comparable").

A run still training gets no verdict. ``gluon-pydmn claims`` writes ``results/claims.md``.
"""
import os
from dataclasses import dataclass

from ..catalog import MODEL_CFGS
from ..run_folder import RunFolder
from .paper import paper_error

__all__ = ['Claim', 'CLAIMS', 'REFERENCE_MODEL', 'REFERENCE_RUNS', 'CURVES_ERROR_RANGE',
           'reference_band', 'verdict', 'claim_run_folders', 'claims_markdown']

#: The network both claims compare against, and its run folders (seeds 0 and 1) under the
#: training root.
REFERENCE_MODEL = 'pydmobilenet_concat_29_0.25'
REFERENCE_RUNS = ('pydmobilenet_concat_29_0.25-cifar10',
                  'pydmobilenet_concat_29_0.25-cifar10-seed1')
#: The test-error axis of the runs' curves, in percent: where the runs end, 7-11%.
CURVES_ERROR_RANGE = (6, 14)


@dataclass(frozen=True)
class Claim:
    """One comparison of the paper, tested by one run against :data:`REFERENCE_RUNS`.

    Attributes
    ----------
    words : str
        The paper's sentence.
    model : str
        The candidate network (zoo name).
    run : str
        Its run folder under the training root (seed 0).
    rule : str
        ``'worse'`` or ``'within'`` (module notes).
    """
    words: str
    model: str
    run: str
    rule: str


CLAIMS = (
    Claim('"The PydMobileNets are slightly better than MobileNets with similar #parameters."',
          'mobilenet_29_0.5', 'mobilenet_29_0.5-cifar10', 'worse'),
    Claim('"In comparison between addition and concatenation when combining features, their '
          'performances are comparable in term of similar #parameters."',
          'pydmobilenet_add_29_0.5', 'pydmobilenet_add_29_0.5-cifar10', 'within'),
)


def reference_band(best_errors):
    """``(mean, spread)`` of the reference seeds' best-epoch errors, in points, rounded to the
    hundredth as the errors are."""
    mean = sum(best_errors) / len(best_errors)
    return round(mean, 2), round(max(best_errors) - min(best_errors), 2)


def verdict(rule, best_errors, candidate_error=None):
    """``(holds, condition)``: the condition ``rule`` sets on the candidate's best-epoch error
    against the reference seeds' ``best_errors``, in words, and whether ``candidate_error``
    meets it (None without one)."""
    mean, spread = reference_band(best_errors)
    if rule == 'worse':
        low = round(max(best_errors) + spread, 2)
        condition = 'above %.2f%% (the worse seed plus the spread)' % low
        holds = None if candidate_error is None else candidate_error > low
    elif rule == 'within':
        low, high = round(mean - spread, 2), round(mean + spread, 2)
        condition = 'within %.2f-%.2f%% (the mean ± the spread)' % (low, high)
        holds = None if candidate_error is None else low <= candidate_error <= high
    else:
        raise ValueError("rule must be 'worse' or 'within', not %r" % (rule,))
    return holds, condition


def _finished_result(root, name):
    """:func:`~gluon_pydmn.run_folder.run_result` of a finished run folder, with its
    ``seed``, or None for one missing or still training."""
    folder = RunFolder(os.path.join(root, name))
    return dict(folder.result(), seed=folder.config().seed) if folder.is_finished() else None


def _run_status(root, name):
    """'finished', 'in progress' or 'not started': the run folder ``name`` under ``root``."""
    folder = RunFolder(os.path.join(root, name))
    if folder.is_finished():
        return 'finished'
    return 'in progress' if folder.state() else 'not started'


def claim_run_folders(root):
    """The run folders the claims compare, in order: the reference seeds, then each claim's
    run that has started (finished or not)."""
    return [os.path.join(root, name) for name in REFERENCE_RUNS] + [
        os.path.join(root, c.run) for c in CLAIMS if _run_status(root, c.run) != 'not started']


class _Table3:
    """The measured Table 3 rows (``gluon-pydmn table3``'s CSV) and the paper's tables."""

    def __init__(self, rows, tables):
        self.rows = {r['zoo_name']: r for r in rows}
        self.tables = tables

    def params_m(self, model):
        return self.rows[model]['params_m']

    def released(self, model):
        return self.rows[model]['cifar10_error']

    def paper(self, model):
        return paper_error(self.tables, model, 'cifar10')


def _network_row(model, runs, table3, status=''):
    """One network: #params, the paper's error, the released weights', our ``runs``' (or the
    ``status`` of its unfinished run)."""
    ours = '; '.join('seed %d: best %.2f%% (epoch %d), last %.2f%%' % (
        r['seed'], r['best_error'], r['best_epoch'], r['last_error']) for r in runs)
    return '| %s | %.3fM | %.2f%% | %.2f%% | %s |' % (
        MODEL_CFGS[model].paper_name, table3.params_m(model), table3.paper(model),
        table3.released(model), ours or status)


def _claim_row(claim, result, best_errors, table3, status=''):
    """One claim: the condition, our number, the gaps to the reference, the verdict (or the
    ``status`` of its unfinished run)."""
    holds, condition = verdict(claim.rule, best_errors, result and result['best_error'])
    gaps = ['paper %+.2f' % (table3.paper(claim.model) - table3.paper(REFERENCE_MODEL)),
            'released weights %+.2f' % (table3.released(claim.model)
                                        - table3.released(REFERENCE_MODEL))]
    if result is None:
        ours, answer = 'needs ' + condition, '**not yet tested** (run %s)' % status
    else:
        gaps.append('ours %+.2f (best epoch, against the seeds\' mean)'
                    % (result['best_error'] - reference_band(best_errors)[0]))
        ours = 'best %.2f%%; needs %s' % (result['best_error'], condition)
        answer = '**holds**' if holds else '**does not hold**'
    return '| %s | %s | %s | %s | %s |' % (claim.words, MODEL_CFGS[claim.model].paper_name,
                                           ours, ', '.join(gaps), answer)


def claims_markdown(root, table3_rows, tables, command):
    """``results/claims.md``: the networks' numbers and each claim's verdict.

    Parameters
    ----------
    root : str
        The training root holding :data:`REFERENCE_RUNS` (finished) and the claims' runs.
    table3_rows : list of dict
        The measured Table 3 (:func:`gluon_pydmn.reproduce.table3.read_csv`).
    tables : dict
        The paper's tables (:func:`~gluon_pydmn.reproduce.paper.load_paper_tables`).
    command : str
        The command that writes the file, recorded in it.
    """
    references = [_finished_result(root, name) for name in REFERENCE_RUNS]
    if None in references:
        raise ValueError('the reference runs %s must be finished under %s'
                         % (', '.join(REFERENCE_RUNS), root))
    table3 = _Table3(table3_rows, tables)
    best_errors = [r['best_error'] for r in references]
    mean, spread = reference_band(best_errors)
    results = {claim.run: _finished_result(root, claim.run) for claim in CLAIMS}
    lines = ["# The paper's comparisons, tested by our own training", '',
             'Generated by `%s`; do not edit by hand. All runs: CIFAR-10, the paper\'s full '
             '320-epoch schema, read from their run folders under `%s`. "Released weights" is '
             'this package\'s measurement of the authors\' checkpoints (results/table3.md).'
             % (command, root), '',
             '| network | #params | paper | released weights | ours (test error) |',
             '|---|---:|---:|---:|---|',
             _network_row(REFERENCE_MODEL, references, table3)]
    status = {c.run: _run_status(root, c.run) for c in CLAIMS if results[c.run] is None}
    lines += [_network_row(c.model, [results[c.run]] if results[c.run] else [], table3,
                           status.get(c.run)) for c in CLAIMS]
    lines += ['', 'The reference, PydMobileNet-Concat-29-0.25, has two seeds: best-epoch mean '
              '%.2f%%, spread %.2f points. The rule, fixed before the candidates\' results: '
              'the first claim holds if MobileNet-29-0.5 is above the worse seed by more than '
              'the spread; the second if PydMobileNet-Add-29-0.5 lies within the spread of '
              'the mean. One seed per candidate can show a difference larger than what a seed '
              'moves; it cannot show two networks equal, only that their difference is no '
              'larger than that.' % (mean, spread), '',
              '| claim | candidate | ours | gap to PydMobileNet-Concat-29-0.25 (points) | '
              'verdict |', '|---|---|---|---|---|']
    lines += [_claim_row(c, results[c.run], best_errors, table3, status.get(c.run))
              for c in CLAIMS]
    return '\n'.join(lines) + '\n'
