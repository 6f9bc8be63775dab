"""The paper's numbers that ship with the package, checked against the project's reference
transcription, and the environment variable that overrides them."""
import json
import os

import pytest

from gluon_pydmn.catalog import LABEL_SETS, MODEL_CFGS
from gluon_pydmn.errors import UnknownNameError
from gluon_pydmn.reproduce.paper import (GLUONCV_MODEL_ZOO, PACKAGE_TABLES, PAPER_SCHEMA,
                                         PaperTablesNotFoundError, load_paper_tables,
                                         model_of_row, paper_error, paper_name, paper_source,
                                         table3_error)
from gluon_pydmn.train import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(os.environ.get('SHARED') or os.path.join(ROOT, '..', 'shared'),
                         'reference', 'paper_tables.json')


@pytest.fixture
def package_tables(monkeypatch):
    monkeypatch.delenv('GLUON_PYDMN_PAPER_TABLES', raising=False)
    return load_paper_tables()


def test_package_transcription_equals_the_reference():
    if not os.path.isfile(REFERENCE):
        pytest.fail('no reference transcription at %s: set $SHARED to the folder holding '
                    'reference/paper_tables.json (make test does)' % REFERENCE)
    with open(PACKAGE_TABLES) as f:
        ours = json.load(f)
    with open(REFERENCE) as f:
        reference = json.load(f)
    for key in ('table3', 'table4_others', 'table5', 'figure2'):
        assert ours[key] == reference[key], key
    schema = {k: v for k, v in ours['training_schema'].items() if k != 'notes'}
    assert schema == reference['training_schema']


def test_package_tables_are_the_default(package_tables):
    with open(PACKAGE_TABLES) as f:
        assert package_tables == json.load(f)
    assert [len(package_tables[k]) for k in ('table3', 'table4_others', 'table5')] == [24, 24, 11]
    assert table3_error(package_tables, 'PydMobileNet-Concat-56-0.75', 'cifar10') == 4.72
    assert table3_error(package_tables, 'MobileNet-29-0.5', 'cifar100-coarse') == 22.59
    assert TrainConfig.from_paper(package_tables) == TrainConfig()
    assert 'Figure 2: Training and testing curves' in package_tables['figure2']['caption']


def test_environment_variable_overrides(monkeypatch, tmp_path):
    other = tmp_path / 'tables.json'
    other.write_text(json.dumps({'table3': [{'model': 'X', 'cifar10_error': 1.5}]}))
    monkeypatch.setenv('GLUON_PYDMN_PAPER_TABLES', str(other))
    assert table3_error(load_paper_tables(), 'X', 'cifar10') == 1.5
    monkeypatch.setenv('GLUON_PYDMN_PAPER_TABLES', str(tmp_path / 'missing.json'))
    with pytest.raises(PaperTablesNotFoundError, match='missing.json.*GLUON_PYDMN_PAPER_TABLES'):
        load_paper_tables()


@pytest.mark.parametrize('label_set', sorted(LABEL_SETS))
@pytest.mark.parametrize('model', sorted(MODEL_CFGS))
def test_paper_error_of_a_zoo_network_is_its_table3_row(package_tables, model, label_set):
    expected = table3_error(package_tables, MODEL_CFGS[model].paper_name, label_set)
    assert paper_error(package_tables, model, label_set) == expected
    assert (expected is None) == (label_set == 'cifar100-fine')  # every zoo network is a row


@pytest.mark.parametrize('model, cifar10', [('cifar_resnet20_v1', 7.30), ('cifar_resnet56_v1', 5.40),
                                            ('cifar_resnet110_v2', 4.50),  # Table 4's ResNet-110*
                                            ('cifar_resnet110_v1', None)])
def test_paper_error_of_gluoncv_networks_is_cifar10_only(package_tables, model, cifar10):
    assert paper_error(package_tables, model, 'cifar10') == cifar10
    assert paper_error(package_tables, model, 'cifar100-coarse') is None  # Table 4 has 18.00
    assert paper_error(package_tables, model, 'cifar100-fine') is None
    with pytest.raises(UnknownNameError, match="'cifar100-fin'"):
        paper_error(package_tables, model, 'cifar100-fin')


@pytest.mark.parametrize('model', sorted(MODEL_CFGS))
def test_zoo_networks_are_named_and_sourced_as_the_papers_own_rows(package_tables, model):
    name = paper_name(model)
    assert name == MODEL_CFGS[model].paper_name
    assert [r['model'] for r in package_tables['table3']].count(name) == 1
    assert paper_source(model) == PAPER_SCHEMA == 'full 320-epoch schema'


@pytest.mark.parametrize('model, table, name', [
    ('cifar_resnet20_v1', 'table3', 'ResNet-20'), ('cifar_resnet56_v1', 'table3', 'ResNet-56'),
    ('cifar_resnet110_v2', 'table4_others', 'ResNet-110 (GluonCV model zoo)')])
def test_gluoncv_rows_are_named_and_sourced_as_quoted(package_tables, model, table, name):
    assert paper_name(model) == name
    assert name in [r['model'] for r in package_tables[table]]
    assert paper_source(model) == GLUONCV_MODEL_ZOO == "quoted from GluonCV's model zoo"


@pytest.mark.parametrize('model', ['cifar_resnet110_v1', 'cifar_resnet20_v2', 'mobilenet1.0', ''])
def test_networks_without_a_paper_row_have_no_name_or_source(model):
    assert paper_name(model) is None
    assert paper_source(model) is None


@pytest.mark.parametrize('model', sorted(MODEL_CFGS) + ['cifar_resnet20_v1', 'cifar_resnet56_v1',
                                                       'cifar_resnet110_v2'])
def test_model_of_row_inverts_paper_name(model):
    assert model_of_row(paper_name(model)) == model


@pytest.mark.parametrize('table', ['table3', 'table5'])
def test_every_row_of_tables_3_and_5_has_a_network(package_tables, table):
    models = [model_of_row(r['model']) for r in package_tables[table]]
    assert None not in models
    assert len(set(models)) == len(models)


@pytest.mark.parametrize('row', ['ResNet (pre-activation)', 'DenseNet-BC (k=12)', 'resnet-20', ''])
def test_rows_without_a_network_have_no_model(row):
    assert model_of_row(row) is None
