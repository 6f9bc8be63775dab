"""Parameter and FLOP counts, computed by walking the model's graph.

Conventions (the paper's):

* ``#params``: trainable parameters: convolution and dense weights and
  biases, BatchNorm gamma and beta; not BN running statistics, nor the
  fixed gamma/beta of a ``BatchNorm(scale=False, center=False)``.
* ``FLOPs``: multiply-accumulates of the convolution and dense layers only
  (BN, ReLU, additions and pooling are not counted), for one image.
"""
import json

import mxnet as mx
import numpy as np

from .blocks import separate_branches

__all__ = ['count_params', 'count_flops', 'layer_flops']


def count_params(net, input_shape=(1, 3, 32, 32)):
    """Trainable parameters of a Gluon block (``grad_req != 'null'``).

    Parameters
    ----------
    net : mxnet.gluon.Block
        Initialised or not. Layers built without their input size (GluonCV's, e.g.) learn their
        shapes from the first input: those are inferred from the graph on an input of
        ``input_shape`` rather than counted as empty.
    input_shape : tuple of int
        ``(N, C, H, W)``; only used for shapes not known yet.
    """
    shapes = {name: p.shape for name, p in net.collect_params().items() if p.grad_req != 'null'}
    unknown = [name for name, shape in shapes.items() if not shape or 0 in shape]
    if unknown:
        if not isinstance(net, mx.gluon.HybridBlock):
            raise ValueError('the shapes of %s are not known yet and %s is not a HybridBlock: run '
                             'one forward pass first' % (', '.join(unknown[:3]), type(net).__name__))
        symbol = net(mx.sym.var('data'))
        arg_shapes, _, _ = symbol.infer_shape(data=input_shape)
        shapes.update((name, shape) for name, shape in zip(symbol.list_arguments(), arg_shapes)
                      if name in shapes)
    return int(sum(np.prod(shape) for shape in shapes.values()))


def layer_flops(symbol, input_shape=(1, 3, 32, 32)):
    """Multiply-accumulates of every Convolution / FullyConnected node of ``symbol``.

    Returns
    -------
    list of (str, str, int)
        ``(node name, op, MACs)`` in graph order, for one input of ``input_shape``.
    """
    internals = symbol.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=input_shape)
    outputs = dict(zip(internals.list_outputs(), out_shapes))
    arg_shapes, _, _ = symbol.infer_shape(data=input_shape)
    args = dict(zip(symbol.list_arguments(), arg_shapes))
    nodes = json.loads(symbol.tojson())['nodes']
    result = []
    for node in nodes:
        if node['op'] not in ('Convolution', 'FullyConnected'):
            continue
        weight = args[nodes[node['inputs'][1][0]]['name']]
        out = outputs[node['name'] + '_output']
        if node['op'] == 'Convolution':
            # each output element costs in_channels / groups * kh * kw = prod(weight[1:]) MACs
            macs = int(np.prod(out)) * int(np.prod(weight[1:]))
        else:
            macs = int(np.prod(weight)) * int(out[0])
        result.append((node['name'], node['op'], macs // input_shape[0]))
    return result


def count_flops(net, input_shape=(1, 3, 32, 32)):
    """Multiply-accumulates of one forward pass of ``net`` on one image.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock or mxnet.symbol.Symbol
        Any hybridizable network (ours, a GluonCV model, a ``SymbolBlock``).
    input_shape : tuple of int
        ``(N, C, H, W)``; the count is per image.
    """
    if isinstance(net, mx.sym.Symbol):
        symbol = net
    else:
        with separate_branches(net):  # count the pyramid's branches, not a merged kernel
            symbol = net(mx.sym.var('data'))
    return sum(macs for _, _, macs in layer_flops(symbol, input_shape))
