"""The README stays a short front door, and every link in the docs leads somewhere.

The README is held to 8,000 characters, with the rest in ``docs/`` and ``results/README.md``;
relative links and their ``#anchors`` must name a file and a heading that exist.
"""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_LIMIT = 8000
LINK = re.compile(r'\]\(([^)\s]+)\)')


def _markdown_files():
    paths = [os.path.join(ROOT, 'README.md'), os.path.join(ROOT, 'results', 'README.md')]
    return paths + sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))


def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def _relative(path):
    return os.path.relpath(path, ROOT)


def github_anchor(heading):
    """The ``#anchor`` GitHub gives a Markdown heading."""
    slug = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return slug.replace(' ', '-')


def anchors(path):
    return {github_anchor(line.lstrip('#')) for line in _read(path).splitlines()
            if re.match(r'#{1,6} ', line)}


def test_github_anchor_matches_githubs_rule():
    assert github_anchor('The full-schema run against the paper') == \
        'the-full-schema-run-against-the-paper'
    assert github_anchor('Figure 2') == 'figure-2'
    assert github_anchor('What `deploy()` does (and why)') == 'what-deploy-does-and-why'


def test_readme_is_at_most_8000_characters():
    size = len(_read(os.path.join(ROOT, 'README.md')))
    assert size <= README_LIMIT, (
        'README.md has %d characters, over the %d allowed: move detail to docs/'
        % (size, README_LIMIT))


def test_link_pattern_finds_the_readmes_links():
    targets = LINK.findall(_read(os.path.join(ROOT, 'README.md')))
    assert 'docs/reproduction.md#figure-2' in targets and len(targets) >= 10


@pytest.mark.parametrize('path', _markdown_files(), ids=_relative)
def test_relative_links_resolve(path):
    targets = LINK.findall(_read(path))
    broken = []
    for target in targets:
        if re.match(r'[a-z]+://', target):
            continue
        file_part, _, anchor = target.partition('#')
        linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
            if file_part else path
        if not os.path.exists(linked):
            broken.append('%s (no such file)' % target)
        elif anchor and anchor not in anchors(linked):
            broken.append('%s (no such heading)' % target)
    assert not broken, '%s: broken links %s' % (_relative(path), broken)


def test_code_and_readme_do_not_cite_issue_numbers():
    """Issue numbers mean nothing to users: say what the code does and why instead."""
    paths = [os.path.join(ROOT, 'README.md')]
    for folder in ('gluon_pydmn', 'experiments'):
        for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
            paths += [os.path.join(dirpath, n) for n in names
                      if n.endswith(('.py', '.md', '.cc', '.h'))]
    assert len(paths) > 20
    citing = []
    for path in paths:
        if 'issue #' in _read(path).lower():
            citing.append(_relative(path))
    assert not citing, 'these files cite issue numbers: %s' % citing


def _table_rows(path, heading):
    """The rows of the first Markdown table under ``heading``, as lists of cell texts."""
    lines = _read(path).splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith('#'):
            break
        if line.startswith('|') and not re.match(r'\|\s*-', line):
            rows.append([cell.strip() for cell in line.strip('|').split('|')])
    return rows[1:]  # without the header


def _module_map():
    """The paths the module map (docs/modules.md) names, one list per row: the names in backticks in
    its first cell and the ``.py`` names in its second; a bare name is relative to the
    folder of the row's first path (``gluon_pydmn/schema.py``, ``train.py``)."""
    rows = []
    for cell, holds in _table_rows(os.path.join(ROOT, 'docs', 'modules.md'), '# Module map'):
        first, *others = re.findall(r'`([^`]+)`', cell)
        others += [n for n in re.findall(r'`([^`]+)`', holds) if n.endswith('.py')]
        folder = first if first.endswith('/') else os.path.dirname(first)
        rows.append([first] + [n if n.startswith(('gluon_pydmn/', 'experiments/'))
                               else os.path.join(folder, n) for n in others])
    return rows


def test_module_map_names_only_files_that_exist():
    named = [path for row in _module_map() for path in row]
    assert 'gluon_pydmn/reproduce/paper.py' in named and 'gluon_pydmn/train.py' in named
    missing = [path for path in named if not os.path.exists(os.path.join(ROOT, path))]
    assert not missing, 'docs/modules.md names files that do not exist: %s' % missing


def test_module_map_names_every_module_of_the_package():
    named = {os.path.normpath(path) for row in _module_map() for path in row}
    modules = {os.path.relpath(path, ROOT)
               for path in glob.glob(os.path.join(ROOT, 'gluon_pydmn', '*.py'))
               if not path.endswith('__init__.py')}
    assert len(modules) > 15
    assert not modules - named, 'docs/modules.md lacks %s' % sorted(modules - named)


def test_results_index_lists_every_result_file_and_only_those():
    index = os.path.join(ROOT, 'results', 'README.md')
    cells = [re.findall(r'`([^`]+)`', cell) for cell, _, _ in _table_rows(index, '# Results')]
    # training/<run>/... rows describe every run folder, not one file
    listed = {name for names in cells if not any('<' in n for n in names) for name in names}
    files = {name for name in os.listdir(os.path.join(ROOT, 'results'))
             if os.path.isfile(os.path.join(ROOT, 'results', name)) and name != 'README.md'}
    assert 'table3.md' in files and 'training/README.md' in listed
    assert not files - listed, 'results/README.md does not list %s' % sorted(files - listed)
    gone = [name for name in listed if not os.path.exists(os.path.join(ROOT, 'results', name))]
    assert not gone, 'results/README.md lists files that do not exist: %s' % gone


def test_the_finetuning_example_quotes_the_measured_numbers():
    """docs/finetuning.md's measured example says what results/finetune.md (generated) says."""
    doc = _read(os.path.join(ROOT, 'docs', 'finetuning.md'))
    measured = _read(os.path.join(ROOT, 'results', 'finetune.md'))
    example = doc[doc.index('## A measured example'):]
    quoted = re.findall(r'(\d+\.\d\d)(?:%| points)', example)
    assert len(quoted) == 3
    for number in quoted:
        assert number in measured, number


def _trained_runs_table():
    """(run folder, last-epoch cell, best-epoch cell) of each row of the reproduction report's
    table of our training runs that links a run's summary."""
    rows = []
    for cells in _table_rows(os.path.join(ROOT, 'docs', 'reproduction.md'),
                             '### From our training'):
        link = re.search(r'\]\(\.\./(results/training/[^)]+)/summary\.md\)', cells[0])
        if link:
            rows.append((os.path.join(ROOT, link.group(1)), cells[4], cells[5]))
    return rows


def test_reproduction_report_quotes_each_runs_own_errors():
    """The report's table of our runs gives each run's last- and best-epoch test error as its
    folder records them (a run resumed or retrained changes them)."""
    from gluon_pydmn.run_folder import RunFolder
    rows = _trained_runs_table()
    assert len(rows) >= 6
    wrong = []
    for folder, last, best in rows:
        result = RunFolder(folder).result()
        expected = ('%.2f' % result['last_error'],
                    '%.2f (epoch %d)' % (result['best_error'], result['best_epoch']))
        if (last.rstrip('†'), best.replace('†', '')) != expected:
            wrong.append('%s: %s, %s (its folder: %s, %s)'
                         % ((os.path.basename(folder), last, best) + expected))
    assert not wrong, 'docs/reproduction.md misquotes runs: %s' % wrong
