"""The one table module: CSV written and read back to the same typed rows, and Markdown cells
formatted and aligned as each column says."""
import pytest

from gluon_pydmn.tables import Column, read_csv, to_csv, to_markdown

COLUMNS = [Column('name', 'Network', kind=str),
           Column('params', 'Params', '%d', kind=int),
           Column('error', 'err (%)', '%.2f', missing='n/a'),
           Column('time', 'time', '%.1f ms', align='left'),
           Column('note', kind=str, missing=lambda row: 'see %s' % row['name'])]
ROWS = [{'name': 'MobileNet-29-0.5', 'params': 79034, 'error': 8.634999, 'time': 1.26,
         'note': 'a, "quoted" | note'},
        {'name': 'ResNet-20', 'params': 272474, 'error': None, 'note': None},
        {'name': 'tiny', 'params': 0, 'error': 1.5e-07, 'time': 0.0, 'note': ''}]


def test_csv_round_trip_gives_the_same_typed_rows(tmp_path):
    text = to_csv(ROWS, COLUMNS)
    assert text.splitlines() == [
        'name,params,error,time,note',
        'MobileNet-29-0.5,79034,8.635,1.26,"a, ""quoted"" | note"',  # floats to 6 digits
        'ResNet-20,272474,,,',  # None and a missing key: empty cells
        'tiny,0,1.5e-07,0,']
    path = tmp_path / 't.csv'
    path.write_text(text)
    back = read_csv(str(path), COLUMNS)
    assert back == [{'name': 'MobileNet-29-0.5', 'params': 79034, 'error': 8.635, 'time': 1.26,
                     'note': 'a, "quoted" | note'},
                    {'name': 'ResNet-20', 'params': 272474, 'error': None, 'time': None,
                     'note': None},
                    {'name': 'tiny', 'params': 0, 'error': 1.5e-07, 'time': 0.0, 'note': None}]
    assert [type(v) for v in back[0].values()] == [str, int, float, float, str]
    assert type(back[2]['time']) is float  # written as '0', read back by its column's kind
    assert to_csv(back, COLUMNS) == text  # read_csv inverts to_csv


def test_read_csv_keeps_unknown_columns_as_text_and_names_missing_ones(tmp_path):
    path = tmp_path / 'extra.csv'
    path.write_text('name,params,error,time,note,host\nx,1,2,3,,node-7\n')
    assert read_csv(str(path), COLUMNS)[0]['host'] == 'node-7'
    old = tmp_path / 'old.csv'
    old.write_text('name,params\nx,1\n')
    with pytest.raises(ValueError, match=r'^%s is not a CSV of this version: no column\(s\) error, '
                                         r'time, note; regenerate it with `make t`$' % old):
        read_csv(str(old), COLUMNS, '`make t`')
    with pytest.raises(FileNotFoundError, match=r'none\.csv does not exist: run `make t` to '
                                                r'write it$'):
        read_csv(str(tmp_path / 'none.csv'), COLUMNS, '`make t`')


def test_markdown_formats_and_aligns_each_column():
    assert to_markdown(ROWS, COLUMNS) == [
        '| Network | Params | err (%) | time | note |',
        '|---|---:|---:|---|---|',  # text left, numbers right, unless align says otherwise
        '| MobileNet-29-0.5 | 79034 | 8.63 | 1.3 ms | a, "quoted" / note |',  # '|' ends a cell
        '| ResNet-20 | 272474 | n/a |  | see ResNet-20 |',  # missing: the column's text or call
        '| tiny | 0 | 0.00 | 0.0 ms |  |']


def test_markdown_fills_a_cell_of_several_values_from_a_tuple():
    spread = Column('spread', 'time (ms)', '%.1f (%.1f-%.1f)')
    assert to_markdown([{'spread': (134.04, 132.61, 136.0)}, {}], [spread]) == [
        '| time (ms) |', '|---:|', '| 134.0 (132.6-136.0) |', '|  |']
    assert to_markdown([], COLUMNS)[1:] == ['|---|---:|---:|---|---|']
    callable_fmt = Column('n', fmt=lambda v: '%d items' % v)
    assert callable_fmt.header == 'n' and callable_fmt.markdown({'n': 3}) == '3 items'


@pytest.mark.parametrize('kwargs', [{'kind': bool}, {'align': 'centre'}])
def test_a_column_refuses_what_it_cannot_read_or_align(kwargs):
    with pytest.raises(ValueError, match="Column 'x'"):
        Column('x', **kwargs)
