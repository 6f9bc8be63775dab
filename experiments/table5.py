"""The paper's Table 5 on this machine: inference time of the 11 Net-56 networks for one batch
of 128 CIFAR-10 test images, in the paper's layout with its GPU and CPU times beside ours.

    python experiments/table5.py --ctx cpu          # make table5
    python experiments/table5.py --ctx gpu:0        # a CUDA build of MXNet and a GPU

Writes <out-dir>/table5-cpu.md and .csv (table5-gpu.* on a GPU context). Each network is timed
as the authors' released graph, this package's network with the released weights, its deploy
form and, on a CPU context, the deploy form in ONNX Runtime, interleaved round by round after
a warm-up; times are medians with their quartiles. The paper's ranking claims are checked on
the measured times under the table. On a CPU context the CPU switches for inference are set
(gluon_pydmn.configure_cpu(training=False)); on a GPU context nothing CPU-specific is.
"""
import argparse
import os

from gluon_pydmn import cli
from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.devices import check_contexts, parse_ctx
from gluon_pydmn.data import CIFAR10, normalize_images
from gluon_pydmn.reproduce import table5
from gluon_pydmn.machine import machine_info, machine_line
from gluon_pydmn.reproduce.paper import load_paper_tables
from gluon_pydmn.utils import command_line, write_text


def _context(text):
    try:
        contexts = parse_ctx(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if len(contexts) > 1:
        raise argparse.ArgumentTypeError('Table 5 times one device at a time, got %r' % text)
    return contexts[0]


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument('--ctx', default='cpu', type=_context,
                   help="'cpu', 'gpu' or 'gpu:N' (default %(default)s)")
    p.add_argument('--batch-size', type=cli.positive_int, default=128,
                   help='images per forward pass (default %(default)s, as in the paper)')
    p.add_argument('--models', nargs='+', choices=table5.TABLE5_MODELS, metavar='MODEL',
                   help='zoo names (default: the 11 networks of Table 5)')
    p.add_argument('--repeats', type=cli.positive_int, default=41,
                   help='timed rounds (default %(default)s)')
    p.add_argument('--warmup', type=cli.non_negative_int, default=3,
                   help='untimed rounds (default %(default)s)')
    p.add_argument('--out-dir', default='results', help='default %(default)s')
    cli.add_data_root(p)
    cli.add_weights_root(p)
    cli.add_paper_tables(p)
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    ctx, = check_contexts([args.ctx])
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
    text = table5.to_document(rows, info, command_line(__file__, argv))
    stem = os.path.join(args.out_dir, 'table5-%s' % ctx.device_type)
    write_text(stem + '.csv', table5.to_csv(rows))
    write_text(stem + '.md', text)
    print(text)
    print('wrote %s.md and %s.csv' % (stem, stem))
    return rows


if __name__ == '__main__':
    cli.run(main, errors=(FileNotFoundError,))
