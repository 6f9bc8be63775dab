"""Time training and inference against the authors' graphs.

    gluon-pydmn benchmark --out results/benchmark.md     # make benchmark

Training steps and inference (deploy mode, ONNX Runtime) side by side; writes --out (default
results/benchmark.md). Every time is the median of interleaved repeats within this one run;
ratios compare contenders measured side by side, round by round (median and quartiles). The
training steps run in a child process with the CPU setting recommended for training
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

from .. import cli
from ..catalog import MODEL_CFGS
from ..cpu import configure_cpu
from ..data import CIFAR10, normalize_images
from ..machine import machine_info, machine_line
from ..reproduce import benchmark
from ..reproduce.paper import load_paper_tables
from ..utils import write_text

__all__ = ['add_arguments', 'run', 'main']

REFERENCE = 'mobilenet_56_1'  # per-MAC training cost is compared with this model's
EXTRA_WIDTHS = [('mobilenet', 56, 0.25), ('mobilenet', 56, 0.75)]  # MobileNets outside the zoo


def add_arguments(p):
    """Add the options of ``gluon-pydmn benchmark`` to the parser ``p``."""
    cli.add_data_root(p)
    cli.add_weights_root(p)
    cli.add_paper_tables(p)
    cli.add_out(p, 'markdown file (default %(default)s)', default='results/benchmark.md')
    p.add_argument('--models', nargs='*', help='zoo names (default: the models of Table 5)')
    p.add_argument('--skip-training', action='store_true', help='time inference only')
    p.add_argument('--train-repeats', type=cli.positive_int, default=7,
                   help='timed training rounds (default %(default)s)')
    cli.add_no_progress(p)
    p.add_argument('--training-json', help=argparse.SUPPRESS)  # child process: time training only


main = cli.command_main(__name__)


def training_in_child(args, names):
    """Run the training timings in a fresh process (the ISA cap must precede MXNet's first op)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_parent] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'training.json')
        cmd = [sys.executable, '-m', 'gluon_pydmn', 'benchmark', '--training-json', out,
               '--train-repeats', str(args.train_repeats), '--models'] + names
        for flag in ('weights_root', 'data_root', 'paper_tables'):
            if getattr(args, flag):
                cmd += ['--' + flag.replace('_', '-'), getattr(args, flag)]
        if args.no_progress:
            cmd.append('--no-progress')
        subprocess.run(cmd, check=True, env=env)
        with open(out) as f:
            return json.load(f)


def _training_only(args, names):
    """The child process's job: time the training steps, write them to ``--training-json``."""
    cpu = configure_cpu(training=True)  # the values in force, for the report
    cfg = lambda n: (MODEL_CFGS[n].family, MODEL_CFGS[n].depth, MODEL_CFGS[n].multiplier)
    specs = [cfg(n) for n in names] + EXTRA_WIDTHS
    rows = benchmark.training_rows(specs, args.weights_root, repeats=args.train_repeats,
                                   reference=cfg(REFERENCE), progress=not args.no_progress)
    with open(args.training_json, 'w') as f:
        json.dump({'cpu': cpu, 'rows': rows}, f)


def run(args):
    """Time the networks, write the report to ``args.out`` and print it."""
    configure_cpu(training=bool(args.training_json))  # training: the child process only
    paper = load_paper_tables(args.paper_tables)
    by_paper_name = {cfg.paper_name: name for name, cfg in MODEL_CFGS.items()}
    paper_ms = {by_paper_name[r['model']]: r['cpu_ms'] for r in paper['table5']}
    names = args.models or list(paper_ms)
    images = normalize_images(CIFAR10(args.data_root, train=False).images[:128])
    if args.training_json:
        _training_only(args, names)
        return
    training = None if args.skip_training else training_in_child(args, names)
    inference = benchmark.inference_rows(names, images, args.weights_root,
                                         progress=not args.no_progress)
    text = benchmark.to_markdown(training, inference, paper_ms, REFERENCE,
                                 cli.command_line(args), machine_line(machine_info(mx.cpu())))
    write_text(args.out, text)
    print(text)
