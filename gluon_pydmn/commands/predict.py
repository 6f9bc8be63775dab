"""Name the classes of image files with a trained network.

    gluon-pydmn predict cat.png ship.jpg --model pydmobilenet_concat_56_0.75   # authors' weights
    gluon-pydmn predict photos/ --checkpoint runs/mine/final.params --top-k 3

Without --checkpoint the authors' weights for --dataset are used (cifar10, or cifar100-coarse:
the 20 superclasses). With --checkpoint a run folder's weights are used, with the network,
class names and input normalisation its run.json records (--model and --dataset are then not
needed). A folder stands for the image files in it (.png, .jpg, .jpeg, searched recursively).
Every image is brought to the network's 32x32 RGB input as image folders are (centre-cropped
to a square, resized with Pillow's antialiased bilinear filter; grey and RGBA converted), and
a closing line counts the images that needed it.
"""
import os

from .. import cli
from ..cpu import configure_cpu
from ..errors import UserError
from ..evaluate import classify
from ..model_zoo import load_run, load_trained
from ..run_folder import record_beside

__all__ = ['add_arguments', 'run', 'main', 'image_paths']

_EXTENSIONS = ('.png', '.jpg', '.jpeg')


def add_arguments(p):
    """Add the options of ``gluon-pydmn predict`` to the parser ``p``."""
    p.add_argument('images', nargs='*', metavar='IMAGE',
                   help='image files (.png, .jpg) or folders of them')
    cli.add_model(p, required=False)
    cli.add_label_set(p)
    p.add_argument('--checkpoint', help="a run folder's final.params (default: the authors' "
                                        'weights for --model and --dataset)')
    p.add_argument('--top-k', type=cli.positive_int, default=1,
                   help='classes to print per image (default %(default)s)')
    cli.add_weights_root(p)
    cli.add_ctx(p)
    cli.add_no_progress(p)


main = cli.command_main(__name__)


def image_paths(items):
    """The image files named by ``items`` (files, or folders searched recursively), sorted
    within each folder.

    Raises
    ------
    UserError
        No image at all, or a path that does not exist.
    """
    paths = []
    for item in items:
        if os.path.isdir(item):
            found = sorted(os.path.join(d, f) for d, _, files in os.walk(item) for f in files
                           if f.lower().endswith(_EXTENSIONS) and not f.startswith('.'))
            if not found:
                raise UserError('%s holds no image file (%s)' % (item, ', '.join(_EXTENSIONS)))
            paths += found
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise UserError('%s does not exist' % item)
    if not paths:
        raise UserError('no image given: name image files or folders, e.g. '
                        'gluon-pydmn predict cat.png --model pydmobilenet_concat_56_0.75')
    return paths


def _network(args, ctx):
    if args.checkpoint and record_beside(args.checkpoint) is not None:
        return load_run(args.checkpoint, ctx=ctx)
    if not args.model:
        raise UserError('give --model NAME (with the authors\' weights or --checkpoint FILE), '
                        'or --checkpoint with the final.params of a run folder')
    return load_trained(args.model, args.dataset, args.checkpoint, ctx=ctx,
                        root=args.weights_root)


def run(args):
    """Print the ``--top-k`` classes of each image; return them (:func:`classify`'s lists,
    one per image, in the order of the paths)."""
    from ..image_folder import load_image_files  # Pillow is needed for image files only
    configure_cpu(training=False)
    ctx = cli.context(args)
    paths = image_paths(args.images)
    net = _network(args, ctx)
    images, conversions = load_image_files(paths, size=32, progress=not args.no_progress,
                                           return_conversions=True)
    results = classify(net, images, top_k=args.top_k, ctx=ctx)
    for path, top in zip(paths, results):
        print('%s: %s' % (path, ', '.join('%s (%.1f%%)' % (name or 'class %d' % index, 100 * p)
                                          for index, name, p in top)))
    if any(conversions.values()):
        print('converted to 32x32 RGB: %s' % ', '.join('%d %s' % (n, what) for what, n
                                                       in sorted(conversions.items()) if n))
    return results
