"""Export the deploy form to MXNet and ONNX, checked on images.

    gluon-pydmn export --model pydmobilenet_concat_56_0.75 --out exported/concat56
    gluon-pydmn export --model pydmobilenet_concat_29_0.25 --format onnx \\
        --checkpoint runs/pydmobilenet_concat_29_0.25-cifar10/final.params --out exported/mine

Writes <out>-symbol.json and <out>-0000.params (load with
mx.gluon.SymbolBlock.imports(symbol, ['data'], params)) and <out>.onnx (dynamic batch; run with
gluon_pydmn.export.OnnxModel or any ONNX runtime). Each file is loaded back and its logits on
--check-images real test images compared with the source network's; the command fails if any
differs by more than --tolerance. Inputs are normalised images (gluon_pydmn.test_transform()).
"""
import argparse
import os
import tempfile
import warnings

import mxnet as mx
import numpy as np

from .. import cli
from ..cpu import configure_cpu
from ..deployment import deploy
from ..errors import UserError
from ..evaluate import load_for_evaluation, predict, trained_on
from ..export import OnnxModel, export_mxnet, export_onnx

__all__ = ['FORMATS', 'add_arguments', 'run', 'main']

FORMATS = ('mxnet', 'onnx')


def _path_prefix(text):
    if not text or text.endswith(('/', os.sep)) or os.path.isdir(text):
        raise argparse.ArgumentTypeError('expected a path prefix such as exported/concat56 (the '
                                         'files get -symbol.json, -0000.params, .onnx appended), '
                                         'got the folder %r' % text)
    return text


def add_arguments(p):
    """Add the options of ``gluon-pydmn export`` to the parser ``p``."""
    cli.add_trained_network(p)
    cli.add_out(p, 'path prefix of the exported files, e.g. exported/concat56 (not a folder)',
                required=True, type=_path_prefix)
    p.add_argument('--format', nargs='+', choices=FORMATS, default=list(FORMATS))
    p.add_argument('--check-images', type=cli.positive_int, default=500,
                   help='test images the exported models are checked on (default %(default)s)')
    p.add_argument('--tolerance', type=float, default=1e-4,
                   help='largest logit difference accepted (default %(default)s)')
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def _loaded(fmt, paths, ctx):
    """The exported files loaded back, as a callable NDArray -> NDArray."""
    if fmt == 'mxnet':
        with warnings.catch_warnings():  # "cannot decide type for data": it is float32
            warnings.simplefilter('ignore', UserWarning)
            block = mx.gluon.SymbolBlock.imports(paths[0], ['data'], paths[1], ctx=ctx)
        block.hybridize(static_alloc=True, static_shape=True)
        return block
    onnx_model = OnnxModel(paths[0])
    return lambda x: mx.nd.array(onnx_model(x))


def _check_writable(out):
    """Refuse, before any work, an ``--out`` whose folder cannot be written into."""
    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UserError('cannot write into %s (%s): choose another --out'
                        % (folder, e.strerror or e))


def run(args):
    """Export the network the options ``args`` choose and check each file written.

    Returns
    -------
    dict
        ``{format: {'paths': files written, 'max_diff': largest logit difference}}``.

    Raises
    ------
    SystemExit
        An export differs from the source network by more than ``--tolerance``.
    """
    configure_cpu(training=False)
    ctx = cli.context(args)
    args.model, args.dataset = trained_on(args.model, args.dataset, args.checkpoint)
    net, test_set = load_for_evaluation(args.model, args.dataset, args.checkpoint,
                                        args.weights_root, args.data_root, ctx)
    _check_writable(args.out)
    deployed = deploy(net, ctx=ctx)
    images = test_set.images[:args.check_images]
    progress = not args.no_progress
    reference = predict(net, images, ctx=ctx, progress=progress, desc=args.model)
    files, failed = {}, []
    for fmt in args.format:
        paths = (export_mxnet(deployed, args.out) if fmt == 'mxnet'
                 else (export_onnx(deployed, args.out + '.onnx'),))
        logits = predict(_loaded(fmt, paths, ctx), images, ctx=ctx, progress=progress, desc=fmt)
        diff = float(np.abs(logits - reference).max())
        files[fmt] = {'paths': paths, 'max_diff': diff}
        print('%-5s %s: largest logit difference to %s on %d test images %.1e'
              % (fmt, ', '.join(paths), args.model, len(images), diff))
        if not diff <= args.tolerance:
            failed.append(fmt)
    if failed:
        raise SystemExit('error: the %s export differs from the source network by more than %g'
                         % (' and '.join(failed), args.tolerance))
    return files
