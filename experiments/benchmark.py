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
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

import mxnet as mx

from gluon_pydmn import cli
from gluon_pydmn.catalog import MODEL_CFGS
from gluon_pydmn.cpu import configure_cpu
from gluon_pydmn.data import CIFAR10, normalize_images
from gluon_pydmn.reproduce import benchmark
from gluon_pydmn.reproduce.paper import load_paper_tables
from gluon_pydmn.utils import atomic_path, command_line

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


def _cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def _ratio(quartiles, unit='x'):
    """``1.43x (1.40-1.47)``: median and quartiles of per-round ratios."""
    median, q1, q3 = quartiles
    return '%.2f%s (%.2f-%.2f)' % (median, unit, q1, q3)


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

    lines = []
    if not args.skip_training:
        child = training_in_child(args, names)
        rows = child['rows']
        lines += ['## Training step, batch 128 (forward, backward, NAG update)', '',
                  'Ours: `get_cifar_net(..., fast=True)` (each pyramid as one C++ operator, '
                  '`gluon_pydmn/csrc/depthwise.cc`; same parameters and gradients). Both contenders run in one process with '
                  '`gluon_pydmn.configure_cpu()` (%s). Per-MAC cost relative to ours of %s, '
                  'which is timed in the same interleaved rounds as every row (its step time '
                  'in the reference column); the targets are at most 2x for the PydMobileNets and '
                  '1.5x for any MobileNet.' % (', '.join('%s=%s' % kv for kv in sorted(child['cpu'].items())),
                                      REFERENCE), '',
                  '| model | MMACs | authors\' graph (s) | ours (s) | ours / authors | ms per MMAC (ours) '
                  '| %s in the same rounds (s) | per-MAC cost vs it | target | met |' % REFERENCE,
                  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
        for r in rows:
            rel = r['per_mac_vs_reference']
            target = 2.0 if r['model'].startswith('pyd') else 1.5
            lines.append('| %s | %.1f | %s | %.3f | %s | %.2f | %.3f | %s | %.1fx | %s |' % (
                r['model'], r['mmacs'], '%.3f' % r['authors_s'] if r['authors_s'] else 'n/a',
                r['ours_s'], _ratio(r['ours_vs_authors'], '') if r['ours_vs_authors'] else 'n/a',
                1000 * r['ours_s'] / r['mmacs'], r['reference_s'], _ratio(rel), target,
                'yes' if rel[0] <= target else '**no**'))
        lines.append('')

    rows = benchmark.inference_rows(names, images, args.weights_root)
    lines += ['## Inference, batch 128', '',
              'Deploy mode (`gluon_pydmn.deploy`, MKL-DNN fusion noted) and its ONNX export in '
              'ONNX Runtime against the authors\' released graph. Max |logit difference| to the '
              'authors\' graph on 128 CIFAR-10 test images in the last two columns. The paper\'s '
              'Table 5 CPU time was measured on an Intel Core i7-4770, so it is only context.', '',
              '| model | paper CPU (ms) | authors\' graph (ms) | deploy (ms) | speed-up | ONNX Runtime (ms) '
              '| speed-up | fusion | deploy diff | ONNX diff |',
              '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|']
    for r in rows:
        lines.append('| %s | %s | %.1f | %.1f | %s | %.1f | %s | %s | %.1e | %.1e |' % (
            r['model'], '%.0f' % paper_ms[r['model']] if r['model'] in paper_ms else 'n/a',
            r['authors_ms_b128'], r['deploy_ms_b128'], _ratio(r['deploy_speedup_b128']),
            r['onnx_ms_b128'], _ratio(r['onnx_speedup_b128']), r['fusion'],
            r['deploy_max_diff'], r['onnx_max_diff']))
    lines += ['', '## Inference latency, batch 1', '',
              '| model | authors\' graph (ms) | deploy (ms) | speed-up | ONNX Runtime (ms) | speed-up |',
              '|---|---:|---:|---:|---:|---:|']
    for r in rows:
        lines.append('| %s | %.2f | %.2f | %s | %.2f | %s |' % (
            r['model'], r['authors_ms_b1'], r['deploy_ms_b1'], _ratio(r['deploy_speedup_b1']),
            r['onnx_ms_b1'], _ratio(r['onnx_speedup_b1'])))

    command = command_line(__file__, argv)
    header = ['# Benchmark', '',
              'Generated by `%s` (`make benchmark`) on %s; do not edit by hand. Machine: %d cores '
              '(%s), MXNet %s with MKL-DNN, OMP_NUM_THREADS=%s, onnxruntime on the CPU. Times are '
              'medians of interleaved repeats in this one run. A ratio is the median of the '
              'per-round ratios, with their first and third quartiles in brackets: how far it '
              'moves with the machine\'s noise.' % (
                  command, datetime.date.today().isoformat(), os.cpu_count(), _cpu_name(),
                  mx.__version__, os.environ.get('OMP_NUM_THREADS')), '']
    text = '\n'.join(header + lines) + '\n'
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with atomic_path(args.out) as tmp, open(tmp, 'w') as f:
        f.write(text)
    print(text)


if __name__ == '__main__':
    cli.run(main)
