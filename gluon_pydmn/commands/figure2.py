"""Plot the paper's Figure 2 from training runs.

    gluon-pydmn figure2                      # the two Figure 2 runs in results/training
    gluon-pydmn figure2 --runs runs/a runs/b --out my_curves.png
    gluon-pydmn figure2 --runs runs/a runs/b --error-range 6 12   # zoom in

Each run folder is one of `gluon-pydmn train` (run.json and history.csv). The paper draws
ResNet-110 (pre-activation, GluonCV's cifar_resnet110_v2) and PydMobileNet-Concat-56-0.25 on
CIFAR-10 with its full 320-epoch schema; the caption under the curves states each run's own
schema, so compressed runs are marked as such, and a dotted line marks the paper's error for
each network ($GLUON_PYDMN_PAPER_TABLES overrides the package's transcription). Writes the
image --out (default results/figure2.png); the generating command is printed under the plot
and stored in the PNG's metadata.
"""
import argparse

from .. import cli
from ..reproduce.figure2 import save_training_curves
from ..reproduce.figure_files import figure_format
from ..reproduce.paper import load_paper_tables

__all__ = ['FIGURE2_RUNS', 'add_arguments', 'run', 'main']

FIGURE2_RUNS = ['results/training/cifar_resnet110_v2-cifar10-scale0.1',
                'results/training/pydmobilenet_concat_56_0.25-cifar10-scale0.1']


class _ErrorRange(argparse.Action):
    """``--error-range LOW HIGH``, refused unless ``0 <= LOW < HIGH``."""

    def __call__(self, parser, namespace, values, option_string=None):
        if not 0 <= values[0] < values[1]:
            raise argparse.ArgumentError(self, '--error-range takes LOW HIGH in percent with '
                                               '0 <= LOW < HIGH, got %g %g' % tuple(values))
        setattr(namespace, self.dest, values)


def add_arguments(p):
    """Add the options of ``gluon-pydmn figure2`` to the parser ``p``."""
    p.add_argument('--runs', nargs='+', default=FIGURE2_RUNS, metavar='DIR',
                   help='run folders, one curve each (default: the two Figure 2 runs)')
    cli.add_out(p, 'image file; the extension picks the format (default %(default)s)',
                default='results/figure2.png')
    p.add_argument('--error-range', nargs=2, type=float, metavar=('LOW', 'HIGH'),
                   action=_ErrorRange,
                   help='test-error axis in percent, e.g. 6 12 to tell apart runs that end '
                        'close together (default: 0 to the highest error)')


main = cli.command_main(__name__)


def run(args):
    """Draw the training curves of ``args.runs`` into ``args.out``."""
    figure_format(args.out)  # an image name that cannot be written is refused before plotting
    save_training_curves(args.runs, args.out, cli.command_line(args), load_paper_tables(),
                         args.error_range)
    print('wrote %s' % args.out)
