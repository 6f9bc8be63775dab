"""tools/mutation_check.py stays applicable: every mutation's fragment occurs exactly once in its
file, and its tests exist (a renamed line would otherwise make the check report it as not
applied, and a code change would silently leave it unguarded)."""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location('mutation_check',
                                               os.path.join(ROOT, 'tools', 'mutation_check.py'))
mutation_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation_check)


@pytest.mark.parametrize('mutation', mutation_check.MUTATIONS, ids=lambda m: m.name)
def test_every_mutation_applies_to_exactly_one_place(mutation):
    with open(os.path.join(ROOT, mutation.path)) as f:
        assert f.read().count(mutation.old) == 1, mutation.name
    assert mutation.old != mutation.new
    for test in mutation.tests:
        assert os.path.isfile(os.path.join(ROOT, test.split('::')[0])), test
