"""GluonCV's CIFAR networks through this package: built, counted, trained, evaluated, reloaded.

The paper's Figure 2 compares PydMobileNet-Concat-56-0.25 with the pre-activation ResNet-110
(GluonCV's ``cifar_resnet110_v2``), so ``get_model`` resolves GluonCV's CIFAR names and the
training script trains them with the same schema, data pipeline, history and resume.
"""
import os

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.errors import UnknownNameError
from gluon_pydmn.evaluate import error_rate, evaluate, predict
from gluon_pydmn.model_zoo import gluoncv_cifar_names

from conftest import load_script

train_script = load_script('train')

# trainable parameters by our count (GluonCV's networks at 10 classes)
GLUONCV_PARAMS = {'cifar_resnet20_v1': 270474, 'cifar_resnet56_v1': 851082,
                  'cifar_resnet110_v2': 1721994}


def test_gluoncv_cifar_names_are_listed_after_ours():
    names = g.get_model_list(include_gluoncv=True)
    assert names[:22] == g.get_model_list()
    assert set(GLUONCV_PARAMS) <= set(names[22:]) and all(n.startswith('cifar_') for n in names[22:])


@pytest.mark.parametrize('name', sorted(GLUONCV_PARAMS))
def test_gluoncv_network_is_gluoncvs_and_counts_like_ours(name):
    from gluoncv.model_zoo import get_model as gluoncv_get_model
    mx.random.seed(0)
    net = g.get_model(name)
    assert type(net) is type(gluoncv_get_model(name, classes=10))
    assert net.classes == 10 and net.pretrained_cfg is None
    assert g.count_params(net) == GLUONCV_PARAMS[name]
    assert g.count_flops(net) == g.count_flops(net(mx.sym.var('data')))
    assert net(mx.nd.zeros((2, 3, 32, 32))).shape == (2, 10)
    assert g.get_model(name, classes=100)(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 100)


def test_resnet110_is_the_papers_figure2_size():
    assert round(g.count_params(g.get_model('cifar_resnet110_v2')) / 1e6, 2) == 1.72


def test_unknown_name_lists_ours_then_gluoncvs():
    with pytest.raises(UnknownNameError) as info:
        g.get_model('cifar_resnet111_v2')
    message = str(info.value)
    assert message.index('pydmobilenet_concat_56_0.75') < message.index('cifar_resnet110_v2')
    assert set(gluoncv_cifar_names()) <= set(message.split())


def test_no_released_weights_for_gluoncv_networks():
    with pytest.raises(ValueError, match=r"gluoncv\.model_zoo\.get_model\('cifar_resnet20_v1', "
                                         r"pretrained=True\)"):
        g.get_model('cifar_resnet20_v1', pretrained=True)


def test_train_script_trains_evaluates_and_reloads_a_gluoncv_network(data_root, tmp_path,
                                                                     monkeypatch, capsys):
    out = str(tmp_path / 'run')
    get_dataset = train_script.get_dataset  # 500 test images keep the test short
    monkeypatch.setattr(train_script, 'get_dataset', lambda name, train, root: (
        get_dataset(name, train=train, root=root) if train else
        get_dataset(name, train=False, root=root).subset(500)))
    args = ['--model', 'cifar_resnet20_v1', '--data-root', data_root, '--out', out,
            '--epochs', '1', '--limit-train', '256', '--no-progress']
    history = train_script.main(args)
    assert [r['epoch'] for r in history] == [1]
    with open(os.path.join(out, 'summary.md')) as f:
        assert '# cifar_resnet20_v1 on cifar10' in f.read()
    net = g.load_trained('cifar_resnet20_v1', 'cifar10',
                         checkpoint_path=os.path.join(out, 'final.params'))
    test = g.CIFAR10(data_root, train=False).subset(500)
    # the run tested in batches of 128, evaluate() in batches of 500: an untrained network's
    # near-tied logits may flip an image or two between the two
    assert evaluate(net, test, progress=False) == pytest.approx(history[0]['test_error'], abs=0.41)
    assert evaluate(net, test, progress=False) == error_rate(predict(net, test.images), test.labels)
    assert np.isfinite(predict(net, test.images[:8])).all()
    with pytest.raises(ValueError, match='with 100 outputs'):
        g.load_trained('cifar_resnet20_v1', 'cifar100-fine',
                       checkpoint_path=os.path.join(out, 'final.params'))
    capsys.readouterr()
    assert train_script.main(args) == history  # finished: resumes to nothing
    assert 'is finished (1 of 1 epochs): nothing to do' in capsys.readouterr().out
