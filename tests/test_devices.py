"""A GPU this MXNet cannot use, asked for from Python: the package's one error from every entry
point that takes ``ctx``, not an MXNet traceback. Without CUDA (these machines) it names the
CUDA build to install; with CUDA, GPU 99 names the GPUs there are."""
import mxnet as mx
import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.errors import NoGpuError, UserError
from gluon_pydmn.evaluate import evaluate, predict
from gluon_pydmn.reproduce.timing import train_step_fn
from gluon_pydmn.run_folder import RunSpec
from gluon_pydmn.train import TrainConfig, run_training, train

GPU = mx.gpu(99)
CALLS = {
    'get_model': lambda tmp: g.get_model('pydmobilenet_concat_29_0.25', ctx=GPU),
    'get_model (GluonCV)': lambda tmp: g.get_model('cifar_resnet20_v1', ctx=GPU),
    'get_cifar_net': lambda tmp: g.get_cifar_net('mobilenet', 11, 0.5, ctx=[mx.cpu(), GPU]),
    'load_trained': lambda tmp: g.load_trained('mobilenet_29_0.5', ctx=GPU),
    'deploy': lambda tmp: g.deploy(g.get_model('mobilenet_29_0.5', initialize=True), ctx=GPU),
    'evaluate': lambda tmp: evaluate(g.get_model('mobilenet_29_0.5', initialize=True), None,
                                     ctx=GPU),
    'predict': lambda tmp: predict(g.get_model('mobilenet_29_0.5', initialize=True),
                                   np.zeros((1, 32, 32, 3), np.uint8), ctx=GPU),
    'train_step_fn (timing)': lambda tmp: train_step_fn(
        g.get_model('mobilenet_29_0.5', initialize=True), ctx=GPU),
    'train': lambda tmp: train(g.get_model('mobilenet_29_0.5'), None, None, str(tmp), ctx=GPU),
    'run_training': lambda tmp: run_training(
        RunSpec('mobilenet_29_0.5', config=TrainConfig(epochs=1), ctx=[GPU]), str(tmp)),
}


@pytest.mark.parametrize('call', list(CALLS))
def test_a_gpu_mxnet_cannot_use_is_the_packages_one_error(call, tmp_path):
    with pytest.raises(NoGpuError) as info:
        CALLS[call](tmp_path / 'run')
    assert isinstance(info.value, UserError)
    if mx.runtime.Features().is_enabled('CUDA'):
        assert str(info.value).startswith('no GPU 99 on this machine: MXNet sees ')
    else:
        assert str(info.value) == (
            'this MXNet build (mxnet %s) has no GPU support; install a CUDA build such as '
            'mxnet-cu112 (pip install mxnet-cu112==%s) to use a GPU'
            % (mx.__version__, mx.__version__))
    assert not (tmp_path / 'run').exists()  # refused before anything was written
