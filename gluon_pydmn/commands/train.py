"""Train a network with the paper's schema (resumable).

    gluon-pydmn train --model pydmobilenet_concat_56_0.75 --dataset cifar10
    gluon-pydmn train --model mobilenet_29_0.5 --epochs 2 --limit-train 2048   # smoke test
    gluon-pydmn train --resume results/training/<run>   # a run folder, on any machine

The schema (NAG, lr 0.1 decayed 10x at epochs 150 and 225, 320 epochs, batch 128, weight decay
1e-4, mixup off for the last 20 epochs) is gluon_pydmn.schema.TrainConfig's; options override
it. Writes the run folder --out (default runs/<model>-<dataset>): run.json (what is trained),
state.json, the last epoch's parameters and optimizer state, history.csv, history.png and
summary.md (command, schema, per-epoch table), rewritten after every epoch, and at the end
final.params. Run the same command again, or --resume DIR, to resume. On CPU the
PydMobileNets train with their C++ pyramid operator (fast=True), with
gluon_pydmn.configure_cpu()'s settings; --ctx gpu:0,1 splits each batch across GPUs.
"""
import argparse
import dataclasses
import os
import sys

from .. import cli
from ..cpu import configure_cpu
from ..errors import UserError
from ..reproduce.paper import paper_note
from ..run_folder import RunFolder, RunSpec
from ..train import run_training
from ..train_options import SCHEMA_FIELDS, add_schema_arguments, config_from_args

__all__ = ['add_arguments', 'run', 'main', 'resumed_spec', 'resume_conflicts']


def add_arguments(p):
    """Add the options of ``gluon-pydmn train`` to the parser ``p``."""
    cli.add_model(p, required=False)
    p.add_argument('--resume', metavar='DIR',
                   help='resume the run folder DIR with its own network, label set, training-set '
                        'size and schema (from its run.json), e.g. on a new machine; those '
                        'options, and --out, are refused unless they match the run')
    cli.add_label_set(p)
    p.add_argument('--data-dir', metavar='FOLDER',
                   help='train on your images instead of CIFAR: FOLDER/train/<class>/*.png|jpg, '
                        'tested on FOLDER/val/<class>/... (docs/your-data.md); one output per '
                        'class')
    cli.add_data_root(p)
    cli.add_out(p, 'run folder (default runs/<model>-<dataset>)', metavar='DIR')
    add_schema_arguments(p)
    p.add_argument('--stop-after', type=cli.positive_int, help='stop after N epochs (resume later)')
    cli.add_ctx(p, several=True)
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def run(args):
    """Train (or resume) the run the options ``args`` ask for.

    Returns
    -------
    list of dict
        The history of the epochs trained by this call (:func:`gluon_pydmn.train.run_training`).
    """
    configure_cpu()  # before MXNet's first operator: threads, one MKL-DNN blocking for training
    ctx = cli.contexts(args)
    if args.resume:
        spec, out = resumed_spec(args, ctx), args.resume
    elif args.model:
        data = os.path.basename(os.path.normpath(args.data_dir)) if args.data_dir else args.dataset
        spec = RunSpec(args.model, None if args.data_dir else args.dataset,
                       config_from_args(args), train_images=args.limit_train,
                       test_images=args.limit_test, ctx=ctx, data_dir=args.data_dir)
        out = args.out or os.path.join('runs', '%s-%s' % (args.model, data))
    else:
        raise UserError('give --model NAME (a new or resumed run) or --resume DIR (a run folder)')
    print('training %s on %s into %s: %s' % (spec.model, spec.data_dir or spec.label_set, out,
                                             dataclasses.asdict(spec.config)))
    history = run_training(spec, out, data_root=args.data_root, stop_after=args.stop_after,
                           progress=not args.no_progress, command=cli.command_line(args),
                           note='' if spec.data_dir else paper_note(spec.model, spec.label_set))
    if history:
        result = RunFolder(out).result()
        print('test error %.2f%% at the last epoch (%d), %.2f%% at the best epoch (%d)'
              % (result['last_error'], result['last_epoch'], result['best_error'],
                 result['best_epoch']))
    return history


def _given_options(args):
    """The destinations of the options given in ``args.argv`` (the others are at their
    defaults), which resuming checks against the run folder."""
    p = cli.command_parser(sys.modules[__name__])
    unset = object()
    defaults = vars(p.parse_args([]))
    given = p.parse_args(getattr(args, 'argv', []),
                         argparse.Namespace(**dict.fromkeys(defaults, unset)))
    return {name for name, value in vars(given).items() if value is not unset}


def resumed_spec(args, ctx):
    """The spec of the run folder ``args.resume``, to train on ``ctx``.

    Raises
    ------
    UserError
        ``--model``, ``--dataset``, ``--out`` or a schema option given on the command line
        with another value than the run's.
    """
    spec = RunSpec.from_folder(args.resume, ctx=ctx)
    if args.model and args.model != spec.model:
        raise UserError('%s is a run of %s, not of %s: drop --model to resume it'
                        % (args.resume, spec.model, args.model))
    conflicts = resume_conflicts(args, spec)
    if conflicts:
        one = len(conflicts) == 1
        raise UserError('%s %s with the run in %s (%s): drop %s to resume it, or train a new run '
                        'with --model %s and another --out'
                        % (' and '.join(_option_text(o, given) for o, given, _ in conflicts),
                           'conflicts' if one else 'conflict', args.resume,
                           ', '.join(_option_text(o, run) for o, _, run in conflicts),
                           'it' if one else 'them', spec.model))
    return spec


def resume_conflicts(args, spec):
    """``(option, given value, the run's value)`` for each option given on the command line
    that does not match the resumed run ``spec``: its label set, image counts, schema, or its
    folder for ``--out``."""
    given = _given_options(args)
    recorded = {dest: getattr(spec.config, field) for dest, field in SCHEMA_FIELDS.items()}
    recorded.update(dataset=spec.label_set, limit_train=spec.train_images,
                    limit_test=spec.test_images, out=args.resume, data_dir=spec.data_dir)
    same = dict.fromkeys(recorded, lambda given, run: given == run)
    same.update(lr_decay_epochs=lambda given, run: tuple(given) == tuple(run),
                out=lambda given, run: os.path.realpath(given) == os.path.realpath(run))
    return [('--' + dest.replace('_', '-'), getattr(args, dest), run)
            for dest, run in recorded.items()
            if dest in given and not same[dest](getattr(args, dest), run)]


def _option_text(option, value):
    """``'--epochs 320'``, ``'--wd 0.0001'``, ``'--lr-decay-epochs 150 225'``, or
    ``'no --limit-train'`` for None."""
    if value is None:
        return 'no ' + option
    values = value if isinstance(value, (list, tuple)) else [value]
    return ' '.join([option] + ['%.12g' % v if isinstance(v, float) else str(v) for v in values])

