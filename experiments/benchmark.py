"""Time Table 5's networks: training steps and inference (deploy mode, ONNX Runtime) against
the authors' released graphs, side by side. Writes results/benchmark.md.

    python experiments/benchmark.py            # make benchmark

Every time is the median of interleaved repeats within this one run; ratios compare
contenders measured side by side, round by round (median and quartiles). The training steps
run in a child process with the CPU setting recommended for training
(gluon_pydmn.configure_cpu: MKL-DNN capped at AVX2), the inference in this process with
MXNet's defaults.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import mxnet as mx

from gluon_pydmn import cli
from gluon_pydmn.catalog import MODEL_CFGS
from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.data import CIFAR10, normalize_images
from gluon_pydmn.reproduce import benchmark
from gluon_pydmn.machine import machine_info, machine_line
from gluon_pydmn.reproduce.paper import load_paper_tables
from gluon_pydmn.utils import command_line, write_text

REFERENCE = 'mobilenet_56_1'  # per-MAC training cost is compared with this model's
EXTRA_WIDTHS = [('mobilenet', 56, 0.25), ('mobilenet', 56, 0.75)]  # MobileNets outside the zoo


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_data_root(p)
    cli.add_weights_root(p)
    cli.add_paper_tables(p)
    p.add_argument('--out', default='results/benchmark.md')
    p.add_argument('--models', nargs='*', help='zoo names (default: the models of Table 5)')
    p.add_argument('--skip-training', action='store_true')
    p.add_argument('--train-repeats', type=int, default=7)
    p.add_argument('--training-json', help=argparse.SUPPRESS)  # child process: time training only
    return p.parse_args(argv)


def training_in_child(args, names):
    """Run the training timings in a fresh process (the ISA cap must precede MXNet's first op)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'training.json')
        cmd = [sys.executable, os.path.abspath(__file__), '--training-json', out,
               '--train-repeats', str(args.train_repeats), '--models'] + names
        for flag in ('weights_root', 'data_root', 'paper_tables'):
            if getattr(args, flag):
                cmd += ['--' + flag.replace('_', '-'), getattr(args, flag)]
        subprocess.run(cmd, check=True)
        with open(out) as f:
            return json.load(f)


def main(argv=None):
    args = parse_args(argv)
    configure_cpu(training=bool(args.training_json))  # training: the child process only
    paper = load_paper_tables(args.paper_tables)
    by_paper_name = {cfg.paper_name: name for name, cfg in MODEL_CFGS.items()}
    paper_ms = {by_paper_name[r['model']]: r['cpu_ms'] for r in paper['table5']}
    names = args.models or list(paper_ms)
    images = normalize_images(CIFAR10(args.data_root, train=False).images[:128])

    if args.training_json:
        cpu = configure_cpu(training=True)  # the values in force, for the report
        cfg = lambda n: (MODEL_CFGS[n].family, MODEL_CFGS[n].depth, MODEL_CFGS[n].multiplier)
        specs = [cfg(n) for n in names] + EXTRA_WIDTHS
        rows = benchmark.training_rows(specs, args.weights_root, repeats=args.train_repeats,
                                       reference=cfg(REFERENCE))
        with open(args.training_json, 'w') as f:
            json.dump({'cpu': cpu, 'rows': rows}, f)
        return

    training = None if args.skip_training else training_in_child(args, names)
    inference = benchmark.inference_rows(names, images, args.weights_root)
    text = benchmark.to_markdown(training, inference, paper_ms, REFERENCE,
                                 command_line(__file__, argv), machine_line(machine_info(mx.cpu())))
    write_text(args.out, text)
    print(text)


if __name__ == '__main__':
    cli.run(main)
