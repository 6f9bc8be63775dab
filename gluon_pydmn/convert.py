"""Convert the authors' released MXNet checkpoints into this package's parameters.

The authors published each network as an exported graph (``*-symbol.json``)
and its weights (``*-0000.params``, keys ``arg:``/``aux:``). Their parameter
names differ between families and say nothing reliable about our layout, so
the conversion maps **by structure**: both graphs are listed as the sequence of
layers that hold parameters (Convolution, BatchNorm, FullyConnected) in the
graph's topological order; the two sequences must agree layer by layer in
operator and hyper-parameters (kernel, stride, padding, groups, filters,
``fix_gamma``, ...), and every mapped tensor must agree in shape. Any
disagreement, unused tensor or unfilled parameter raises
:class:`ConversionError` naming the layer.
"""
import json

import mxnet as mx

from .blocks import separate_branches
from .errors import ConversionError

__all__ = ['ConversionError', 'param_layers', 'convert_authors_params', 'load_authors_params']

# Hyper-parameters that must agree per operator, with MXNet's defaults.
_CHECKED_ATTRS = {
    'Convolution': {'kernel': None, 'stride': '(1, 1)', 'pad': '(0, 0)', 'dilate': '(1, 1)',
                    'num_filter': None, 'num_group': '1', 'no_bias': 'False'},
    'BatchNorm': {'fix_gamma': 'True', 'axis': '1', 'eps': '0.001'},
    'FullyConnected': {'num_hidden': None, 'no_bias': 'False', 'flatten': 'True'},
}


def param_layers(symbol_json):
    """Layers that hold parameters, in topological order.

    Parameters
    ----------
    symbol_json : str
        A graph as ``Symbol.tojson()`` writes it.

    Returns
    -------
    list of (str, str, dict, list of str)
        ``(op, layer name, checked hyper-parameters, parameter names)``; the
        parameter names are the layer's inputs after the data input
        (weight[, bias] or gamma, beta, running mean, running var).
    """
    nodes = json.loads(symbol_json)['nodes']
    layers = []
    for node in nodes:
        checked = _CHECKED_ATTRS.get(node['op'])
        if checked is None:
            continue
        attrs = node.get('attrs', node.get('param', {}))
        hyper = {k: _normalise(attrs.get(k, default)) for k, default in checked.items()}
        params = [nodes[i]['name'] for i, _, _ in node['inputs'][1:]]
        layers.append((node['op'], node['name'], hyper, params))
    return layers


def _normalise(value):
    if value in ('True', 'False', None):
        return value
    try:
        return str(float(value)) if '.' in value or 'e' in value else value.replace(' ', '')
    except ValueError:
        return value.replace(' ', '')


def _strip_prefix(arrays):
    out = {}
    for key, value in arrays.items():
        name = key.split(':', 1)[1] if key.startswith(('arg:', 'aux:')) else key
        out[name] = value
    return out


def convert_authors_params(net, symbol_json, arrays):
    """Map an authors' checkpoint onto ``net``'s parameters.

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        Target network with the same architecture (e.g. from
        :func:`gluon_pydmn.get_model`), parameters initialised or not.
    symbol_json : str
        The authors' graph (contents of ``*-symbol.json``).
    arrays : dict of str to NDArray
        The authors' weights (``mx.nd.load`` of ``*-0000.params``).

    Returns
    -------
    dict of str to NDArray
        Values keyed by the full names in ``net.collect_params()``.

    Raises
    ------
    ConversionError
        If the graphs differ in any layer, shape, or in what is left over.
    """
    theirs = param_layers(symbol_json)
    with separate_branches(net):
        ours = param_layers(net(mx.sym.var('data')).tojson())
    if len(theirs) != len(ours):
        raise ConversionError('the checkpoint has %d layers with parameters, the network %d: '
                              'wrong model for this checkpoint?' % (len(theirs), len(ours)))
    arrays = _strip_prefix(arrays)
    params = net.collect_params()
    values, used = {}, set()
    for (op_t, name_t, hyper_t, names_t), (op_o, name_o, hyper_o, names_o) in zip(theirs, ours):
        where = 'layer %s (ours: %s)' % (name_t, name_o)
        if op_t != op_o or hyper_t != hyper_o:
            raise ConversionError('%s: %s %s in the checkpoint but %s %s in the network'
                                  % (where, op_t, hyper_t, op_o, hyper_o))
        if len(names_t) != len(names_o):
            raise ConversionError('%s: %d parameter inputs in the checkpoint, %d in the network'
                                  % (where, len(names_t), len(names_o)))
        for src, dst in zip(names_t, names_o):
            if src not in arrays:
                raise ConversionError('%s: tensor %s is missing from the checkpoint' % (where, src))
            value, target = arrays[src], params[dst]
            if tuple(value.shape) != tuple(target.shape):
                raise ConversionError('%s: %s has shape %s but %s needs %s'
                                      % (where, src, value.shape, dst, target.shape))
            values[dst] = value
            used.add(src)
    missing = sorted(set(params.keys()) - set(values))
    unused = sorted(set(arrays) - used)
    if missing or unused:
        raise ConversionError('parameters not filled: %s; checkpoint tensors not used: %s'
                              % (missing or 'none', unused or 'none'))
    return values


def load_authors_params(net, symbol_file, params_file, ctx=None):
    """Load an authors' checkpoint pair of files into ``net`` (see :func:`convert_authors_params`).

    Parameters
    ----------
    net : mxnet.gluon.HybridBlock
        Target network.
    symbol_file, params_file : str
        The ``*-symbol.json`` and ``*-0000.params`` files.
    ctx : Context or list of Context, optional
        Where to put the parameters; defaults to ``mx.cpu()``.
    """
    try:
        with open(symbol_file) as f:
            symbol_json = f.read()
        json.loads(symbol_json)
    except (OSError, ValueError) as e:
        raise ConversionError('cannot read the graph %s: %s' % (symbol_file, e)) from e
    try:
        arrays = mx.nd.load(params_file)
    except mx.base.MXNetError as e:
        raise ConversionError('cannot read the weights %s (truncated or corrupt?): %s'
                              % (params_file, str(e).splitlines()[0])) from e
    values = convert_authors_params(net, symbol_json, arrays)
    ctx = ctx or mx.cpu()
    for name, param in net.collect_params().items():
        param._load_init(values[name], ctx)
