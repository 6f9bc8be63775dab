"""``gluon-pydmn selfcheck``: every device path once. Here (no CUDA) it runs on the CPU, and
``--ctx gpu`` stops with the package's one line."""
import pytest

from gluon_pydmn import commands
from gluon_pydmn.commands import selfcheck


def test_selfcheck_passes_every_check_on_the_cpu(data_root, release_root, capsys):
    results = selfcheck.main(['--data-root', data_root, '--weights-root', release_root])
    assert list(results) == [name for name, _ in selfcheck.CHECKS]
    assert all(ok for ok, _ in results.values()), results
    assert selfcheck.exit_status(results) == 0
    assert 'all 4 checks passed' in capsys.readouterr().out


def test_a_failing_check_is_reported_and_the_rest_still_run(data_root, release_root, capsys,
                                                            monkeypatch):
    def broken(args, ctx):
        raise RuntimeError('deliberately broken')
    monkeypatch.setattr(selfcheck, 'CHECKS', [('broken', broken)] + selfcheck.CHECKS[:1])
    results = selfcheck.main(['--data-root', data_root, '--weights-root', release_root])
    assert results['broken'] == (False, 'RuntimeError: deliberately broken')
    assert results['forward pass'][0] and selfcheck.exit_status(results) == 1
    assert '1 of 2 failed (broken)' in capsys.readouterr().out


def test_selfcheck_on_a_gpu_mxnet_cannot_use_is_one_line(capsys):
    import mxnet as mx
    if mx.runtime.Features().is_enabled('CUDA'):
        pytest.skip('this MXNet has CUDA: the GPU checks would run')
    with pytest.raises(SystemExit) as exit_info:
        commands.main(['selfcheck', '--ctx', 'gpu'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: this MXNet build')
