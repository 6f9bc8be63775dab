"""The paper's Table 5 on this machine: inference time.

    gluon-pydmn table5 --ctx cpu          # make table5
    gluon-pydmn table5 --ctx gpu:0        # a CUDA build of MXNet and a GPU

The 11 Net-56 networks on one batch of 128 CIFAR-10 test images, in the paper's layout with its
GPU and CPU times beside ours. Writes <out>/table5-cpu.md and .csv (table5-gpu.* on a GPU
context; --out default results). Each network is timed as the authors' released graph, this
package's network with the released weights, its deploy form and, on a CPU context, the deploy
form in ONNX Runtime, interleaved round by round after a warm-up; times are medians with their
quartiles. The paper's ranking claims are checked on the measured times under the table. On a
CPU context the CPU switches for inference are set (gluon_pydmn.configure_cpu(training=False));
on a GPU context nothing CPU-specific is.
"""
import os

from .. import cli
from ..cpu import configure_cpu
from ..data import CIFAR10, normalize_images
from ..machine import machine_info, machine_line
from ..reproduce import table5
from ..reproduce.paper import load_paper_tables
from ..utils import write_text

__all__ = ['ERRORS', 'add_arguments', 'run', 'main']

#: Besides the package's user errors, also reported as one ``error:`` line: a missing file.
ERRORS = (FileNotFoundError,)


def add_arguments(p):
    """Add the options of ``gluon-pydmn table5`` to the parser ``p``."""
    cli.add_ctx(p)
    p.add_argument('--batch-size', type=cli.positive_int, default=128,
                   help='images per forward pass (default %(default)s, as in the paper)')
    p.add_argument('--models', nargs='+', choices=table5.TABLE5_MODELS, metavar='MODEL',
                   help='zoo names (default: the 11 networks of Table 5)')
    p.add_argument('--repeats', type=cli.positive_int, default=41,
                   help='timed rounds (default %(default)s)')
    p.add_argument('--warmup', type=cli.non_negative_int, default=3,
                   help='untimed rounds (default %(default)s)')
    cli.add_out(p, 'folder of table5-<device>.md and .csv (default %(default)s)',
                default='results', metavar='DIR')
    cli.add_data_root(p)
    cli.add_weights_root(p)
    cli.add_paper_tables(p)
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def run(args):
    """Time Table 5's networks on ``args.ctx``, write the table into ``args.out`` and print it.

    Returns
    -------
    list of dict
        The table's rows (:func:`gluon_pydmn.reproduce.table5.build_rows`).
    """
    ctx = cli.context(args)
    if ctx.device_type == 'cpu':
        configure_cpu(training=False)
    load_before = os.getloadavg()[0]
    paper = load_paper_tables(args.paper_tables)['table5']
    images = normalize_images(CIFAR10(args.data_root, train=False).images[:args.batch_size],
                              ctx=ctx)
    measured = table5.measure(args.models or table5.TABLE5_MODELS, images, ctx,
                              root=args.weights_root, repeats=args.repeats, warmup=args.warmup,
                              progress=not args.no_progress)
    info = machine_info(ctx)
    rows = table5.build_rows(paper, measured, machine_line(info))
    info.update(warmup=args.warmup, load=(load_before, os.getloadavg()[0]))
    text = table5.to_document(rows, info, cli.command_line(args))
    stem = os.path.join(args.out, 'table5-%s' % ctx.device_type)
    write_text(stem + '.csv', table5.to_csv(rows))
    write_text(stem + '.md', text)
    print(text)
    print('wrote %s.md and %s.csv' % (stem, stem))
    return rows
