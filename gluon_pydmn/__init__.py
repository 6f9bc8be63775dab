"""gluon_pydmn: MXNet Gluon reproduction of PydMobileNet (Hoang & Jo, arXiv 1811.07083)."""
from .blocks import ConvMain, DepthwiseMain, PyramidDepthwise, ResidualBlock
from .cifar_net import CIFARNet
from .counting import count_flops, count_params
from .cpu import configure_cpu
from .data import CIFAR10, CIFAR100, test_transform, train_transform
from .deployment import deploy
from .image_folder import ImageFolder
from .export import export_mxnet, export_onnx
from .model_zoo import (CoarseLabelWarning, StaleInputBatchNormWarning, get_cifar_net, get_model,
                        get_model_list, load_run, load_trained, pretrained_cfg)

__all__ = ['ConvMain', 'DepthwiseMain', 'PyramidDepthwise', 'ResidualBlock', 'CIFARNet',
           'count_flops', 'count_params', 'configure_cpu', 'CIFAR10', 'CIFAR100',
           'test_transform', 'train_transform', 'deploy', 'export_mxnet', 'export_onnx',
           'CoarseLabelWarning', 'StaleInputBatchNormWarning', 'get_cifar_net', 'get_model',
           'get_model_list', 'load_run', 'load_trained', 'pretrained_cfg', 'ImageFolder']
__version__ = '0.1.0'
