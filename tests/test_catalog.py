"""The single definition of architectures and label sets, the one-way imports built on it, and
training and evaluation on the authors' CIFAR-100 protocol (100 outputs, 20 coarse labels)."""
import ast
import os

import numpy as np
import pytest

import gluon_pydmn as g
from gluon_pydmn.catalog import LABEL_SETS, MODEL_CFGS, label_set, model_cfg
from gluon_pydmn.errors import UnknownNameError, UserError
from gluon_pydmn.evaluate import error_rate, evaluate, predict
from gluon_pydmn.model_zoo import load_trained
from gluon_pydmn.pretrained import RELEASED_LABEL_SETS, pretrained_cfg

from gluon_pydmn.commands import train as train_script

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'gluon_pydmn')


def test_label_sets():
    assert {n: (ls.dataset, ls.num_labels, ls.head_width, ls.paper_column)
            for n, ls in LABEL_SETS.items()} == {
        'cifar10': ('cifar10', 10, 10, 'cifar10_error'),
        'cifar100-fine': ('cifar100', 100, 100, None),
        'cifar100-coarse': ('cifar100', 20, 100, 'cifar100_error')}
    with pytest.raises(UnknownNameError, match='cifar100-coarse'):
        label_set('cifar100')
    # the authors' weights: one head width per released label set, 100 outputs for the coarse one
    for name in RELEASED_LABEL_SETS:
        labels = LABEL_SETS[name]
        cfg = pretrained_cfg('mobilenet_29_0.5', labels.head_width)
        assert (cfg.label_set, cfg.num_outputs, cfg.num_labels) == (
            name, labels.head_width, labels.num_labels)


@pytest.mark.parametrize('name, folder, names_file', [
    ('cifar10', 'cifar-10-batches-bin', 'batches.meta.txt'),
    ('cifar100-fine', 'cifar-100-binary', 'fine_label_names.txt'),
    ('cifar100-coarse', 'cifar-100-binary', 'coarse_label_names.txt')])
def test_class_names_are_the_datasets_own_in_label_order(name, folder, names_file, data_root):
    with open(os.path.join(data_root, folder, names_file)) as f:
        official = tuple(line.strip() for line in f if line.strip())
    assert LABEL_SETS[name].class_names == official
    assert len(official) == LABEL_SETS[name].num_labels


@pytest.mark.parametrize('name', list(MODEL_CFGS))
def test_pretrained_configs_name_the_classes_their_weights_predict(name):
    for labels in map(label_set, RELEASED_LABEL_SETS):
        cfg = pretrained_cfg(name, labels.head_width)
        assert cfg.class_names == labels.class_names and len(cfg.class_names) == cfg.num_labels
    assert pretrained_cfg(name, 10).class_names[3] == 'cat'
    assert pretrained_cfg(name, 100).class_names[0] == 'aquatic_mammals'


def test_datasets_take_their_label_counts_from_the_label_sets(cifar10_test, cifar100_test):
    assert cifar10_test.num_classes == 10
    assert cifar100_test['fine'].num_classes == 100 and cifar100_test['coarse'].num_classes == 20
    assert cifar100_test['coarse'].labels.max() == 19 and cifar100_test['fine'].labels.max() == 99


def test_unknown_model_name_is_a_user_error():
    with pytest.raises(UserError, match='mobilenet_29_0.5'):
        model_cfg('mobilenet_29')
    assert model_cfg('mobilenet_29_0.5') is MODEL_CFGS['mobilenet_29_0.5']


def _imports(path, module):
    """gluon_pydmn modules imported by ``module`` (file ``path``), also inside functions."""
    package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith('gluon_pydmn'))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            if not base.startswith('gluon_pydmn'):
                continue
            for alias in node.names:  # ``from . import ops`` imports a module
                sub = base + '.' + alias.name
                found.add(sub if os.path.exists(_path(sub)) else base)
    return found


def _path(module):
    rel = os.path.join(*module.split('.')[1:]) if '.' in module else ''
    folder = os.path.join(PACKAGE, rel)
    return os.path.join(folder, '__init__.py') if os.path.isdir(folder) else folder + '.py'


def test_no_import_cycles_among_the_package_modules():
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(PACKAGE))
                module = rel[:-3].replace(os.sep, '.')
                module = module[:-len('.__init__')] if module.endswith('.__init__') else module
                graph[module] = _imports(os.path.join(folder, f), module)
    assert graph['gluon_pydmn.catalog'] <= {'gluon_pydmn.errors'}
    assert 'gluon_pydmn.model_zoo' not in graph['gluon_pydmn.pretrained']
    state = {}

    def visit(module, stack):
        state[module] = 'open'
        for dep in sorted(graph.get(module, ())):
            if dep == module or module.startswith(dep + '.'):  # itself or a package above it
                continue
            assert state.get(dep) != 'open', 'import cycle: ' + ' -> '.join(stack + [dep])
            if dep not in state:
                visit(dep, stack + [dep])
        state[module] = 'done'
    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_training_on_coarse_labels_builds_the_authors_100_output_head(data_root, tmp_path,
                                                                      cifar100_test):
    out = str(tmp_path / 'run')
    history = train_script.main(['--model', 'mobilenet_29_0.5', '--dataset', 'cifar100-coarse',
                                 '--data-root', data_root, '--out', out, '--epochs', '1',
                                 '--batch-size', '64', '--limit-train', '128',
                                 '--limit-test', '1000', '--no-progress'])
    path = os.path.join(out, 'final.params')
    net = load_trained('mobilenet_29_0.5', 'cifar100-coarse', checkpoint_path=path)
    assert net.output.weight.shape == (100, 128) and net.classes == 100
    coarse = cifar100_test['coarse'].subset(1000)
    net.hybridize(static_alloc=True, static_shape=True)
    logits = predict(net, coarse.images)
    assert logits.shape == (1000, 100)
    error = evaluate(net, coarse, progress=False)
    assert error == error_rate(logits, coarse.labels)
    # tested in batches of 64 there, 500 here: near-tied logits of a barely trained network may
    # flip a few of the 1,000 images
    assert error == pytest.approx(history[-1]['test_error'], abs=0.6)
    with open(os.path.join(out, 'summary.md')) as f:  # the paper's column for this label set
        assert "The paper's Table 3 gives 22.59% for this network" in f.read()
    with pytest.raises(ValueError, match='with 10 outputs'):
        g.get_model('mobilenet_29_0.5', classes=10, checkpoint_path=path)
    assert np.isfinite(logits).all()
