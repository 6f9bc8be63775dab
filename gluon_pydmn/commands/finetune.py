"""Fine-tune the CIFAR-10 weights to a small task, against training from scratch.

    gluon-pydmn finetune --out results                # results/finetune.md and its two runs
    gluon-pydmn finetune --model mobilenet_29_0.5 --train-images 2000 --epochs 10 --out /tmp/ft

Two runs of the same network, schema (the paper's, compressed to --epochs) and images (the
first --train-images training images of --dataset, all its test images): one starts from the
authors' CIFAR-10 weights with a new classifier, the other from scratch. Their run folders go
under OUT/finetune/ and resume when the command is run again; OUT/finetune.md compares them
(gluon_pydmn.reproduce.finetune).
"""
import os

from .. import cli
from ..cpu import configure_cpu
from ..reproduce.finetune import FinetuneExperiment, run_experiment, write_experiment_markdown

__all__ = ['add_arguments', 'run', 'main']

_DEFAULT = FinetuneExperiment()


def add_arguments(p):
    """Add the options of ``gluon-pydmn finetune`` to the parser ``p``."""
    cli.add_model(p, required=False)
    p.set_defaults(model=_DEFAULT.model)
    cli.add_label_set(p, default=_DEFAULT.label_set)
    p.add_argument('--train-images', type=cli.positive_int, default=_DEFAULT.train_images,
                   help='the first N training images (default %(default)s)')
    p.add_argument('--epochs', type=cli.positive_int, default=_DEFAULT.epochs,
                   help="both runs' length: the paper's schema compressed to it "
                        '(default %(default)s)')
    p.add_argument('--seed', type=cli.non_negative_int, default=_DEFAULT.seed)
    p.add_argument('--keep-weights', action='store_true',
                   help="keep each finished run's final.params (by default dropped: the result "
                        "is the errors, and the fine-tuned weights derive from the authors' "
                        'release)')
    cli.add_out(p, 'folder of finetune.md and of the run folders (under finetune/; default '
                   '%(default)s)', default='results', metavar='DIR')
    cli.add_data_root(p)
    cli.add_weights_root(p)
    cli.add_ctx(p)
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def run(args):
    """Train (or resume) both runs and write ``OUT/finetune.md``; return its text."""
    configure_cpu()
    ctx = cli.contexts(args)
    exp = FinetuneExperiment(args.model, args.dataset, args.train_images, args.epochs, args.seed)
    command = cli.command_line(args)
    folders = run_experiment(exp, os.path.join(args.out, 'finetune'), data_root=args.data_root,
                             weights_root=args.weights_root, ctx=ctx,
                             progress=not args.no_progress, command=command,
                             keep_weights=args.keep_weights)
    text = write_experiment_markdown(exp, folders, os.path.join(args.out, 'finetune.md'),
                                     command, ctx=ctx[0])
    print(text)
    return text
