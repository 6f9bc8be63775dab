"""Apply one-line mutations to a copy of the repository and report which ones the tests miss.

Each mutation replaces one exact line fragment of the library (it must occur exactly once) in
a temporary copy of the working tree (tracked and untracked, not ignored, files), then runs the
tests that should catch it (``python -m pytest -x`` in the copy, so the copy's package is the
one imported). A mutation *survives* when those tests still pass. Not part of ``make test``::

    python tools/mutation_check.py              # all mutations
    python tools/mutation_check.py --list       # names only
    python tools/mutation_check.py no-shuffle lr-not-set

The environment defaults mirror the Makefile's (``$GLUON_PYDMN_DATA`` etc.); set them to
point elsewhere. The exit status is 1 when a mutation survives or cannot be applied.
"""
import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Mutation = collections.namedtuple('Mutation', 'name path old new tests what')

TRAIN = 'gluon_pydmn/train.py'
LOOP_TESTS = ('tests/test_train_loop.py',)

MUTATIONS = [
    # the table
    Mutation('mixup-never-applied', TRAIN,
             'lam = rng.beta(config.mixup_alpha, config.mixup_alpha) if use_mixup else 1.0',
             'lam = 1.0', LOOP_TESTS, 'mixup never applied in the loop'),
    Mutation('no-augmentation', 'gluon_pydmn/data.py',
             'return normalize_images(random_crop_flip(images, rng), mean, std, ctx=ctx)',
             'return normalize_images(images, mean, std, ctx=ctx)', LOOP_TESTS,
             'training batches (augmented_batch) are not augmented'),
    Mutation('no-shuffle', TRAIN, 'order = rng.permutation(len(dataset))',
             'order = np.arange(len(dataset))', LOOP_TESTS, 'no shuffling'),
    Mutation('epoch0-generator', TRAIN, 'rng = _epoch_rng(config.seed, epoch)',
             'rng = _epoch_rng(config.seed, 0)', LOOP_TESTS,
             "every epoch drawn from epoch 0's generator"),
    Mutation('lr-not-set', TRAIN, 'self.trainer.set_learning_rate(lr)', 'pass', LOOP_TESTS,
             'the learning-rate decay never reaches the optimizer'),
    Mutation('bn-stats-summed', TRAIN,
             'mean = nd.add_n(*[c.as_in_context(copies[0].context) for c in copies]) / len(copies)',
             'mean = nd.add_n(*[c.as_in_context(copies[0].context) for c in copies])',
             LOOP_TESTS, 'multi-device BatchNorm running statistics summed, not averaged'),
    Mutation('error-rate-n-minus-1', 'gluon_pydmn/evaluate.py',
             'return 100.0 * float(np.mean(wrong))',
             'return 100.0 * float(np.sum(wrong) / (len(labels) - 1))',
             ('tests/test_metric.py',), 'error_rate divides by len(labels) - 1'),
    # the weaker spots the issue names, and a few more
    Mutation('unseeded-epochs', TRAIN, 'rng = _epoch_rng(config.seed, epoch)',
             'rng = np.random.RandomState()', LOOP_TESTS,
             'epochs drawn from an unseeded generator (a resumed run sees other data)'),
    Mutation('pixels-plus-one', 'gluon_pydmn/data.py',
             'images = raw[:, n_labels:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)',
             'images = (raw[:, n_labels:] + 1).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)',
             ('tests/test_data_pinned.py',), 'every decoded pixel byte shifted by one'),
    Mutation('other-cifar-std', 'gluon_pydmn/data.py', 'CIFAR_STD = (0.2023, 0.1994, 0.2010)',
             'CIFAR_STD = (0.2470, 0.2435, 0.2616)', ('tests/test_data_pinned.py',),
             'the other common CIFAR std values'),
    Mutation('bn-relu-swapped', 'gluon_pydmn/blocks.py',
             "self.body.add(batch_norm(in_channels), nn.Activation('relu'),",
             "self.body.add(nn.Activation('relu'), batch_norm(in_channels),",
             ('tests/test_block_math.py',), "ReLU before the block's first BatchNorm"),
    Mutation('pyramid-order-reversed', 'gluon_pydmn/blocks.py',
             'DEFAULT_KERNEL_SIZES = (3, 5, 7)', 'DEFAULT_KERNEL_SIZES = (7, 5, 3)',
             ('tests/test_block_math.py',), 'Concat pyramid branches in the order 7, 5, 3'),
    Mutation('flops-ignore-in-channels', 'gluon_pydmn/counting.py',
             'macs = int(np.prod(out)) * int(np.prod(weight[1:]))',
             'macs = int(np.prod(out)) * int(np.prod(weight[2:]))', ('tests/test_flops.py',),
             'convolution MACs without the input channels'),
    Mutation('params-deferred-as-empty', 'gluon_pydmn/counting.py', '    if unknown:',
             '    if False:', ('tests/test_counting.py', 'tests/test_gluoncv_models.py'),
             'weights whose shape awaits the first input counted as empty (GluonCV networks)'),
    Mutation('gluoncv-rows-all-label-sets', 'gluon_pydmn/reproduce/paper.py',
             "    if _label_set(label_set).name != 'cifar10':", '    if False:',
             ('tests/test_paper.py',), "GluonCV's rows quoted for CIFAR-100 label sets too"),
    Mutation('no-table4-resnet110', 'gluon_pydmn/reproduce/paper.py',
             "GLUONCV_TABLE4_ROWS = {'ResNet-110 (GluonCV model zoo)': 'cifar_resnet110_v2'}",
             'GLUONCV_TABLE4_ROWS = {}', ('tests/test_paper.py',),
             "Figure 2's ResNet-110 without the paper's Table 4 error"),
    Mutation('any-network-quoted-from-gluoncv', 'gluon_pydmn/reproduce/paper.py',
             '    return GLUONCV_MODEL_ZOO if model in _GLUONCV_PAPER_NAMES else None',
             '    return GLUONCV_MODEL_ZOO', ('tests/test_paper.py',),
             "a network the paper never ran said to be quoted from GluonCV's model zoo"),
    Mutation('table3-without-gluoncv-rows', 'gluon_pydmn/reproduce/paper.py',
             '                      **GLUONCV_ROWS, **GLUONCV_TABLE4_ROWS)',
             '                      **GLUONCV_TABLE4_ROWS)', ('tests/test_table3.py',),
             "Table 3's ResNet-20 and ResNet-56 rows (GluonCV's) left out of the reproduction"),
    Mutation('weight-norms-with-biases', 'gluon_pydmn/reproduce/signature.py',
             "        key = ('weight_sq' if name.endswith('_weight') else",
             "        key = ('weight_sq' if name.endswith(('_weight', '_bias')) else",
             ('tests/test_signature.py',),
             "the weights' squared norm counting biases as well as kernels"),
]

# as in the Makefile
SHARED = os.path.join(ROOT, '..', 'shared')
ENV_DEFAULTS = {
    'GLUON_PYDMN_CACHE': os.path.expanduser('~/.cache/gluon_pydmn'),
    'GLUON_PYDMN_WEIGHTS': os.path.abspath(os.path.join(SHARED, 'reference', 'pydmobilenet_mxnet')),
    'GLUON_PYDMN_PAPER_TABLES': os.path.abspath(os.path.join(SHARED, 'reference',
                                                             'paper_tables.json')),
    'OMP_NUM_THREADS': str(os.cpu_count() or 1),
}


def _environment():
    env = dict(os.environ)
    for key, value in ENV_DEFAULTS.items():
        env.setdefault(key, value)
    env.setdefault('GLUON_PYDMN_DATA', os.path.join(env['GLUON_PYDMN_CACHE'], 'data'))
    return env


def copy_tree(dest):
    """Copy the working tree's tracked and untracked (not ignored) files into ``dest``."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           cwd=ROOT, check=True, capture_output=True).stdout.decode().split('\0')
    for name in filter(None, files):
        src = os.path.join(ROOT, name)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))


def run_tests(copy, tests, python, env):
    """``(passed, failure lines)`` of pytest on ``tests`` in ``copy``."""
    cmd = [python, '-m', 'pytest', '-x', '-q', '-rf', '--tb=no', '-p', 'no:cacheprovider',
           '-W', 'ignore'] + list(tests)
    proc = subprocess.run(cmd, cwd=copy, env=dict(env, COLUMNS='2000'), capture_output=True,
                          text=True)  # COLUMNS: pytest cuts the summary's messages to the width
    lines = (proc.stdout + proc.stderr).splitlines()
    failures = [l for l in lines if l.startswith(('FAILED', 'ERROR'))]
    if proc.returncode not in (0, 1) and not failures:
        failures = ['pytest exit status %d: %s' % (proc.returncode, ' | '.join(lines[-3:]))]
    return proc.returncode == 0, failures


def check(mutations, python, keep=False, baseline=True, out=sys.stdout):
    env = _environment()
    copy = tempfile.mkdtemp(prefix='mutation_check_')
    results = []
    try:
        copy_tree(copy)
        probe = subprocess.run([python, '-c', 'import gluon_pydmn; print(gluon_pydmn.__file__)'],
                               cwd=copy, env=env, capture_output=True, text=True)
        if not probe.stdout.strip().startswith(copy):
            raise SystemExit('the copy does not import its own gluon_pydmn (%s%s)'
                             % (probe.stdout.strip(), probe.stderr.strip()[-300:]))
        if baseline:
            tests = sorted({t for m in mutations for t in m.tests})
            passed, failures = run_tests(copy, tests, python, env)
            if not passed:
                raise SystemExit('the unmutated tests fail, fix them first:\n  '
                                 + '\n  '.join(failures))
            print('baseline: %s pass unmutated' % ' '.join(tests), file=out, flush=True)
        for m in mutations:
            path = os.path.join(copy, m.path)
            with open(path) as f:
                source = f.read()
            if source.count(m.old) != 1:
                results.append((m, 'NOT APPLIED', ['%r occurs %d times in %s'
                                                   % (m.old, source.count(m.old), m.path)]))
            else:
                with open(path, 'w') as f:
                    f.write(source.replace(m.old, m.new))
                start = time.time()
                try:
                    passed, failures = run_tests(copy, m.tests, python, env)
                finally:
                    with open(path, 'w') as f:
                        f.write(source)
                results.append((m, 'SURVIVED' if passed else 'killed', failures))
                print('%-26s %-8s %4.0f s  %s' % (m.name, results[-1][1], time.time() - start,
                                                  failures[0] if failures else ''),
                      file=out, flush=True)
    finally:
        if keep:
            print('copy kept in', copy, file=out)
        else:
            shutil.rmtree(copy, ignore_errors=True)
    return results


def report(results):
    """A markdown table of the results."""
    lines = ['| mutation | what it breaks | result | first failing test |', '|---|---|---|---|']
    for m, status, failures in results:
        lines.append('| `%s` (%s) | %s | %s | %s |' % (
            m.name, m.path, m.what, status,
            failures[0].replace('|', '\\|') if failures else ''))
    survivors = [m.name for m, status, _ in results if status != 'killed']
    lines.append('')
    lines.append('%d of %d mutations killed%s' % (
        len(results) - len(survivors), len(results),
        '; surviving or not applied: ' + ', '.join(survivors) if survivors else ''))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('names', nargs='*', help='mutations to run (default: all)')
    parser.add_argument('--list', action='store_true', help='list the mutations and exit')
    parser.add_argument('--python', default=sys.executable, help='interpreter running pytest')
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the run of the unmutated tests')
    parser.add_argument('--keep', action='store_true', help='keep the temporary copy')
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print('%-26s %-26s %s' % (m.name, m.path, m.what))
        return 0
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error('unknown mutation(s): %s' % ', '.join(sorted(unknown)))
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    results = check(chosen, args.python, keep=args.keep, baseline=not args.no_baseline)
    print()
    print(report(results))
    return 0 if all(status == 'killed' for _, status, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
