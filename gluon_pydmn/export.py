"""Export to MXNet's symbol/params files and to ONNX, and run ONNX models with onnxruntime.

Export the deploy mode (:func:`gluon_pydmn.deploy`): its graph has no BatchNorm to
fold and no training-only state.
"""
import os

import mxnet as mx
import numpy as np

__all__ = ['export_mxnet', 'export_onnx', 'OnnxModel']


def _graph(net):
    """The symbol of ``net`` (traced without touching its hybridization) and its parameters."""
    symbol = net(mx.sym.var('data'))
    params = {name: p.data().as_in_context(mx.cpu()) for name, p in net.collect_params().items()}
    return symbol, params


def export_mxnet(net, prefix, epoch=0):
    """Write ``<prefix>-symbol.json`` and ``<prefix>-<epoch>.params`` (``-0000`` by default);
    return both paths.

    They load back with ``mx.gluon.nn.SymbolBlock.imports(symbol, ['data'], params)``.
    The graph is traced from ``net`` as written (no fused operators), so any MXNet build
    runs it, with or without MKL-DNN.
    """
    symbol, params = _graph(net)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    args = set(symbol.list_arguments())
    paths = prefix + '-symbol.json', '%s-%04d.params' % (prefix, epoch)
    symbol.save(paths[0])
    mx.nd.save(paths[1], {('arg:' if name in args else 'aux:') + name: value
                          for name, value in params.items()})
    return paths


def export_onnx(net, path, input_shape=(1, 3, 32, 32), dynamic_batch=True):
    """Convert ``net`` to an ONNX file at ``path`` (through ``mx.onnx``); return ``path``.

    Parameters
    ----------
    net : HybridBlock
        Typically ``deploy(get_model(..., pretrained=True))``.
    path : str
        Output ``.onnx`` file.
    input_shape : tuple
        ``(N, 3, H, W)`` used to trace the graph.
    dynamic_batch : bool, default True
        Leave the batch dimension free in the ONNX graph.
    """
    symbol, params = _graph(net)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    dynamic = [(None,) + tuple(input_shape[1:])] if dynamic_batch else None
    mx.onnx.export_model(symbol, params, in_shapes=[tuple(input_shape)], in_types=[np.float32],
                         onnx_file_path=path, dynamic=dynamic_batch, dynamic_input_shapes=dynamic)
    _weights_out_of_inputs(path)
    return path


def _weights_out_of_inputs(path):
    """mx.onnx lists the weights as graph inputs too, which stops onnxruntime from treating
    them as constants (no constant folding); keep only the data input."""
    import onnx
    model = onnx.load(path)
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx.checker.check_model(model)
    onnx.save(model, path)


class OnnxModel:
    """An ONNX file run by onnxruntime on the CPU: ``OnnxModel(path)(x) -> logits``.

    Parameters
    ----------
    path : str
        ONNX file.
    threads : int, optional
        Intra-op threads (default: onnxruntime's choice).
    spinning : bool, default False
        Let onnxruntime's threads busy-wait after each run (its own default). Off by default: the
        spinning threads take the CPU from whatever runs next, which made MXNet timed right
        after an ONNX run look 10-15% slower in side-by-side benchmarks.
    """

    def __init__(self, path, threads=None, spinning=False):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        if not spinning:
            options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x):
        x = x.asnumpy() if isinstance(x, mx.nd.NDArray) else np.asarray(x, dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0]
