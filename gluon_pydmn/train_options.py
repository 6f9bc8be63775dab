"""Command-line options for the training schema, shared by ``gluon-pydmn train`` and
``gluon-pydmn sweep``: :func:`add_schema_arguments` adds them to a parser and
:func:`config_from_args` turns the parsed options into a :class:`~gluon_pydmn.schema.TrainConfig`.
"""
import math
import warnings

from .cli import positive_int
from .errors import ConfigError
from .schema import TrainConfig

__all__ = ['add_schema_arguments', 'config_from_args', 'SCHEMA_FIELDS']

DEFAULTS = TrainConfig()

#: The schema options' destinations (``--lr``: ``lr``) and the TrainConfig fields they set.
SCHEMA_FIELDS = {'epochs': 'epochs', 'batch_size': 'batch_size', 'lr': 'learning_rate',
                 'lr_decay_epochs': 'lr_decay_epochs', 'wd': 'weight_decay',
                 'mixup_alpha': 'mixup_alpha', 'mixup_off_last_epochs': 'mixup_off_last_epochs',
                 'seed': 'seed', 'schedule_scale': 'schedule_scale'}


def add_schema_arguments(parser):
    """Add the schema options (``--schedule-scale``, ``--epochs``, ``--batch-size``, ``--lr``,
    ``--lr-decay-epochs``, ``--wd``, ``--mixup-alpha``, ``--mixup-off-last-epochs``,
    ``--seed``), ``--limit-train`` and ``--limit-test`` to ``parser``; defaults are the paper's."""
    p = parser
    p.add_argument('--schedule-scale', type=float,
                   help="compress the paper's schema: scale its epochs, decay epochs and "
                        "mixup-free span together (e.g. 0.1: 32 epochs, decays at 15 and 23, "
                        "mixup off for the last 2); it sets the length, so --epochs is refused "
                        "with it")
    p.add_argument('--epochs', type=int,
                   help='default %d; not with --schedule-scale' % DEFAULTS.epochs)
    p.add_argument('--batch-size', type=int, default=DEFAULTS.batch_size)
    p.add_argument('--lr', type=float, default=DEFAULTS.learning_rate)
    p.add_argument('--lr-decay-epochs', type=int, nargs='*',
                   help='default %s; each below the number of epochs'
                        % ' '.join(map(str, DEFAULTS.lr_decay_epochs)))
    p.add_argument('--wd', type=float, default=DEFAULTS.weight_decay)
    p.add_argument('--mixup-alpha', type=float, default=DEFAULTS.mixup_alpha,
                   help='0 turns mixup off (default %(default)s)')
    p.add_argument('--mixup-off-last-epochs', type=int,
                   help='default %d' % DEFAULTS.mixup_off_last_epochs)
    p.add_argument('--seed', type=int, default=DEFAULTS.seed)
    p.add_argument('--limit-train', type=positive_int,
                   help='train on the first N training images only')
    p.add_argument('--limit-test', type=positive_int,
                   help='measure the test error on the first N test images only')
    return parser


def config_from_args(args):
    """The :class:`TrainConfig` the options of :func:`add_schema_arguments` ask for.

    Warns when ``--epochs`` shortens the schema but leaves its decays at the paper's epochs.

    Raises
    ------
    ConfigError
        A NaN or infinite number, decay epochs below 1 or never reached, or ``--epochs`` with
        ``--schedule-scale`` (both set the length).
    """
    _refuse_bad_values(args)
    length = {name: value for name, value in (('epochs', args.epochs),
                                              ('lr_decay_epochs', args.lr_decay_epochs),
                                              ('mixup_off_last_epochs', args.mixup_off_last_epochs))
              if value is not None}
    rest = dict(batch_size=args.batch_size, learning_rate=args.lr, weight_decay=args.wd,
                mixup_alpha=args.mixup_alpha, seed=args.seed)
    if args.schedule_scale is not None:
        config = TrainConfig.compressed(args.schedule_scale, **rest, **length)
    else:
        config = TrainConfig(**rest, **length)
    if 'lr_decay_epochs' in length and config.unreached_decays():
        raise ConfigError(
            '--lr-decay-epochs %s: a run of %d epochs%s never reaches a decay at epoch %s (a '
            'decay at epoch E lowers the learning rate after the first E epochs): give decay '
            'epochs below %d, or more epochs'
            % (' '.join(map(str, config.lr_decay_epochs)), config.epochs,
               ' (--schedule-scale %g)' % args.schedule_scale
               if args.schedule_scale is not None else '',
               ' and '.join(map(str, config.unreached_decays())), config.epochs))
    if 'epochs' in length and 'lr_decay_epochs' not in length and config.epochs != DEFAULTS.epochs:
        scale = config.epochs / DEFAULTS.epochs
        warnings.warn("--epochs %d keeps the paper's learning-rate decays at epochs %s and "
                      'mixup on until %d epochs before the end: %s'
                      % (config.epochs, ' and '.join(map(str, config.lr_decay_epochs)),
                         config.mixup_off_last_epochs,
                         'set --lr-decay-epochs' if TrainConfig.compressed(scale).unreached_decays()
                         else 'use --schedule-scale %g to compress the whole schema, or set '
                              '--lr-decay-epochs' % scale), stacklevel=2)
    elif args.schedule_scale is not None and config.unreached_decays():
        warnings.warn('--schedule-scale %g gives %d epochs, too few to reach its learning-rate '
                      'decays (at epochs %s): the run trains at --lr %g throughout; set '
                      '--lr-decay-epochs (below %d) for a decay'
                      % (args.schedule_scale, config.epochs,
                         ' and '.join(map(str, config.unreached_decays())), config.learning_rate,
                         config.epochs), stacklevel=2)
    return config


def _refuse_bad_values(args):
    """Raise :class:`ConfigError` naming the option for values no schema can run with."""
    for option, value, example in (('--schedule-scale', args.schedule_scale, 0.1),
                                   ('--lr', args.lr, DEFAULTS.learning_rate),
                                   ('--wd', args.wd, DEFAULTS.weight_decay),
                                   ('--mixup-alpha', args.mixup_alpha, DEFAULTS.mixup_alpha)):
        if value is not None and not math.isfinite(value):
            raise ConfigError('%s %s: expected a finite number such as %g'
                              % (option, value, example))
    if any(e < 1 for e in args.lr_decay_epochs or ()):
        raise ConfigError('--lr-decay-epochs %s: decay epochs must be at least 1 (epoch 0 '
                          'trains with the initial learning rate)'
                          % ' '.join(map(str, args.lr_decay_epochs)))
    if args.schedule_scale is not None and args.epochs is not None:
        raise ConfigError(
            '--epochs %d and --schedule-scale %g both set the number of epochs: give '
            '--schedule-scale alone (%g gives %d epochs), or --epochs with --lr-decay-epochs'
            % (args.epochs, args.schedule_scale, args.schedule_scale,
               TrainConfig.compressed(args.schedule_scale).epochs))
