"""Slow checks (`make test-slow`): full test-set errors of all 44 released checkpoints,
with the converted network and with its deploy mode."""
import pytest

import gluon_pydmn as g
from gluon_pydmn.deployment import deploy
from gluon_pydmn.evaluate import evaluate
from gluon_pydmn.model_zoo import MODEL_CFGS
from gluon_pydmn.reproduce.paper import load_paper_tables

from conftest import load_pretrained_quietly


@pytest.mark.slow
@pytest.mark.parametrize('classes', [10, 100])
@pytest.mark.parametrize('name', g.get_model_list())
def test_full_test_set_error_equals_paper(name, classes, release_root, cifar10_test, cifar100_test):
    paper = {r['model']: r for r in load_paper_tables()['table3']}[MODEL_CFGS[name].paper_name]
    net = load_pretrained_quietly(name, classes, release_root)
    net.hybridize(static_alloc=True, static_shape=True)
    if classes == 10:
        err, expected = evaluate(net, cifar10_test, progress=False), paper['cifar10_error']
    else:
        err, expected = evaluate(net, cifar100_test['coarse'], progress=False), paper['cifar100_error']
    assert abs(err - expected) <= 0.05


@pytest.mark.slow
@pytest.mark.parametrize('classes', [10, 100])
@pytest.mark.parametrize('name', g.get_model_list())
def test_deploy_mode_keeps_full_test_set_error(name, classes, release_root, cifar10_test,
                                               cifar100_test):
    net = load_pretrained_quietly(name, classes, release_root)
    test = cifar10_test if classes == 10 else cifar100_test['coarse']
    deployed = deploy(net)
    net.hybridize(static_alloc=True, static_shape=True)
    assert evaluate(deployed, test, progress=False) == evaluate(net, test, progress=False)
