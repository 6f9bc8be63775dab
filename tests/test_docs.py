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
    assert 'docs/training.md#figure-2' in targets and len(targets) >= 10


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
