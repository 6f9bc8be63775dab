"""Every zoo model's multiply-accumulates and parameters, pinned to Table 3 as measured
(``results/table3.csv``) and to a count worked out from the architecture by hand."""
import csv
import os

import pytest

import gluon_pydmn as g
from gluon_pydmn.model_zoo import get_model_list

# zoo name -> (MACs for one 32x32 image, trainable parameters), from results/table3.csv
# (its flops_m column is these MACs in millions, rounded to 6 significant digits)
PINNED = {
    'resnet_29_0.5': (33654016, 221162),
    'mobilenet_29_0.5': (13194496, 79034),
    'mobilenet_29_1': (24454400, 142794),
    'mobilenet_29_1.5': (35714304, 206554),
    'pydmobilenet_add_29_0.25': (10747136, 59586),
    'pydmobilenet_add_29_0.5': (19559680, 103898),
    'pydmobilenet_add_29_0.75': (28372224, 148210),
    'pydmobilenet_add_29_1': (37184768, 192522),
    'pydmobilenet_concat_29_0.25': (15465728, 92514),
    'pydmobilenet_concat_29_0.5': (28996864, 169754),
    'pydmobilenet_concat_29_0.75': (42528000, 246994),
    'resnet_56_0.5': (64324864, 434858),
    'mobilenet_56_0.5': (23405824, 150602),
    'mobilenet_56_1': (44877056, 283242),
    'mobilenet_56_1.5': (66348288, 415882),
    'pydmobilenet_add_56_0.25': (19035392, 109146),
    'pydmobilenet_add_56_0.5': (36136192, 200330),
    'pydmobilenet_add_56_0.75': (53236992, 291514),
    'pydmobilenet_add_56_1': (70337792, 382698),
    'pydmobilenet_concat_56_0.25': (28472576, 175002),
    'pydmobilenet_concat_56_0.5': (55010560, 332042),
    'pydmobilenet_concat_56_0.75': (81548544, 489082),
}

TABLE3_CSV = os.path.join(os.path.dirname(__file__), '..', 'results', 'table3.csv')


MAIN_PARTS = {'resnet': 'conv', 'mobilenet': 'depthwise', 'pydmobilenet_add': 'pyramid_add',
              'pydmobilenet_concat': 'pyramid_concat'}


def _by_hand(name, classes=10):
    """MACs and parameters of Table 1's network ``family_depth_alpha``, layer by layer (the
    architecture of the authors' graphs, as the shared README describes it)."""
    family, depth, alpha = name.rsplit('_', 2)
    main, depth, alpha = MAIN_PARTS[family], int(depth), float(alpha)
    pyramid = 9 + 25 + 49
    macs, params = 32 * 32 * 32 * 27, 32 * 27  # stem 3x3 conv 3 -> 32 (its BN is fixed)
    size, d_in = 32, 32
    for stage, d in enumerate((32, 64, 128)):
        for i in range((depth - 2) // 9):
            stride = 2 if stage > 0 and i == 0 else 1
            m = int(alpha * d)
            merged = 3 * m if main == 'pyramid_concat' else m
            out = size // stride
            main_weights = {'conv': m * m * 9, 'depthwise': m * 9, 'pyramid_add': m * pyramid,
                            'pyramid_concat': m * pyramid}[main]
            macs += size * size * d_in * m + out * out * main_weights + out * out * merged * d
            params += d_in * m + main_weights + merged * d + 2 * (d_in + m + merged + d)
            if stride != 1 or d_in != d:  # 1x1 projection shortcut and its BN
                macs += out * out * d_in * d
                params += d_in * d + 2 * d
            size, d_in = out, d
    return macs + 128 * classes, params + 128 * classes + classes


def test_pinned_table_covers_the_zoo_and_matches_table3_csv():
    assert sorted(PINNED) == sorted(get_model_list())
    with open(TABLE3_CSV) as f:
        rows = {r['zoo_name']: r for r in csv.DictReader(f)}
    for name, (macs, params) in PINNED.items():
        assert int(rows[name]['params']) == params, name
        assert float(rows[name]['flops_m']) == float('%g' % (macs / 1e6)), name


@pytest.mark.parametrize('name', get_model_list())
def test_zoo_model_counts_are_pinned(name):
    net = g.get_model(name)
    macs, params = PINNED[name]
    assert (macs, params) == _by_hand(name), 'pinned table vs. the count by hand'
    assert g.count_flops(net) == macs, '%s: counted MACs %d, Table 3 has %d' % (
        name, g.count_flops(net), macs)
    assert g.count_params(net) == params, '%s: counted parameters %d, Table 3 has %d' % (
        name, g.count_params(net), params)
