"""GluonCV's CIFAR networks through this package: built, counted, trained, evaluated, reloaded.

The paper's Figure 2 compares PydMobileNet-Concat-56-0.25 with the pre-activation ResNet-110
(GluonCV's ``cifar_resnet110_v2``), so ``get_model`` resolves GluonCV's CIFAR names and the
training script trains them with the same schema, data pipeline, history and resume.
"""
import os
import warnings

import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.classifier import num_outputs
from gluon_pydmn.errors import UnknownNameError
from gluon_pydmn.evaluate import error_rate, evaluate, predict
from gluon_pydmn.model_zoo import gluoncv_cifar_names

from gluon_pydmn.commands import train as train_script

GLUONCV_NETWORKS = {'cifar_resnet20_v1': (20, 1), 'cifar_resnet56_v1': (56, 1),
                    'cifar_resnet110_v2': (110, 2)}  # name: (depth, version)


def resnet_counts(depth, version, classes=10):
    """Trainable parameters and MACs of GluonCV's CIFAR ResNet, worked out from its layers: a 3x3
    stem conv (then BN in v1), three stages of (depth - 2) / 6 basic blocks at 16, 32, 64
    channels and 32, 16, 8 pixels, two 3x3 convs a block with BN after each (v1) or before
    each (v2, pre-activation), a 1x1 conv (+ BN in v1) where the width changes, a final BN in
    v2, the dense layer. No conv has a bias; v2's input BN is fixed."""
    blocks = (depth - 2) // 6
    params, macs, c_in = 3 * 16 * 9 + (2 * 16 if version == 1 else 0), 32 * 32 * 16 * 27, 16
    for c, size in ((16, 32), (32, 16), (64, 8)):
        for _ in range(blocks):
            params += c_in * c * 9 + c * c * 9 + (4 * c if version == 1 else 2 * c_in + 2 * c)
            macs += size * size * (c_in * c * 9 + c * c * 9)
            if c_in != c:
                params += c_in * c + (2 * c if version == 1 else 0)
                macs += size * size * c_in * c
            c_in = c
    params += (2 * 64 if version == 2 else 0) + 64 * classes + classes
    return params, macs + 64 * classes


def test_gluoncv_cifar_names_are_listed_after_ours():
    names = g.get_model_list(include_gluoncv=True)
    assert names[:22] == g.get_model_list()
    assert set(GLUONCV_NETWORKS) <= set(names[22:]) and all(n.startswith('cifar_') for n in names[22:])


@pytest.mark.parametrize('name', sorted(GLUONCV_NETWORKS))
def test_gluoncv_network_is_gluoncvs_and_counted_right(name):
    from gluoncv.model_zoo import get_model as gluoncv_get_model
    mx.random.seed(0)
    net = g.get_model(name)
    assert type(net) is type(gluoncv_get_model(name, classes=10))
    assert num_outputs(net) == 10 and net.pretrained_cfg is None
    params, macs = resnet_counts(*GLUONCV_NETWORKS[name])
    assert (g.count_params(net), g.count_flops(net)) == (params, macs)  # before any forward pass
    assert g.count_params(g.get_model(name, classes=100)) == resnet_counts(
        *GLUONCV_NETWORKS[name], classes=100)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        net.initialize(mx.init.Xavier())  # GluonCV's habit: get_model leaves it uninitialised
    assert not [w for w in caught if 'initialized' in str(w.message)]
    assert net(mx.nd.zeros((2, 3, 32, 32))).shape == (2, 10)
    assert g.get_model(name, classes=100, initialize=True)(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 100)


def test_resnet110_is_the_papers_figure2_size():
    assert round(g.count_params(g.get_model('cifar_resnet110_v2')) / 1e6, 3) == 1.731  # "> 1.7M"


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
                                                                     capsys):
    out = str(tmp_path / 'run')
    args = ['--model', 'cifar_resnet20_v1', '--data-root', data_root, '--out', out,
            '--epochs', '1', '--limit-train', '256', '--limit-test', '500', '--no-progress']
    history = train_script.main(args)
    assert [r['epoch'] for r in history] == [1]
    with open(os.path.join(out, 'summary.md')) as f:
        summary = f.read()
    assert '# cifar_resnet20_v1 on cifar10' in summary
    assert ("The paper quotes 7.30% for this network on cifar10 from GluonCV's model zoo"
            in summary)  # Table 3's ResNet-20*
    net = g.load_trained('cifar_resnet20_v1', 'cifar10',
                         checkpoint_path=os.path.join(out, 'final.params'))
    assert net.model_name == 'cifar_resnet20_v1'
    test = g.CIFAR10(data_root, train=False).subset(500)
    # the run tested in batches of 128, evaluate() in batches of 500: an untrained network's
    # near-tied logits may flip an image or two between the two
    assert evaluate(net, test, progress=False) == pytest.approx(history[0]['test_error'], abs=0.41)
    assert evaluate(net, test, progress=False) == error_rate(predict(net, test.images), test.labels)
    assert np.isfinite(predict(net, test.images[:8])).all()
    # its run folder says which labels it learned: the wrong ones are refused before loading
    with pytest.raises(ValueError, match=r'trained on cifar10 labels \(its run.json\), not '
                                         r'cifar100-fine: .*--dataset cifar10'):
        g.load_trained('cifar_resnet20_v1', 'cifar100-fine',
                       checkpoint_path=os.path.join(out, 'final.params'))
    capsys.readouterr()
    assert train_script.main(args) == history  # finished: resumes to nothing
    assert 'is finished (1 of 1 epochs): nothing to do' in capsys.readouterr().out
