"""The download paths, run against a local HTTP server that mirrors the original sites.

These machines have no internet, so the server serves the project's offline copies laid out
as the official sites are (CIFAR archives under one folder, the authors' release under
``models/``); only the base URL differs from what users get.
"""
import functools
import http.server
import os
import threading

import numpy as np
import pytest

from gluon_pydmn import cli
from gluon_pydmn.commands import download as download_command
from gluon_pydmn import data as data_mod
from gluon_pydmn import pretrained
from gluon_pydmn.convert import ConversionError
from gluon_pydmn.model_zoo import get_model, pretrained_cfg

from conftest import load_pretrained_quietly


class _Mirror:
    """A thread serving ``folder`` over HTTP on localhost; ``requests`` lists the paths asked for."""

    def __init__(self, folder):
        self.requests = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                mirror.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), functools.partial(Handler, directory=folder))
        self.url = 'http://127.0.0.1:%d/' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    mirrors = []

    def start(folder):
        mirrors.append(_Mirror(str(folder)))
        return mirrors[-1]
    yield start
    for m in mirrors:
        m.close()


def test_cifar_download_fetches_extracts_and_loads(data_root, cifar10_test, cifar100_test,
                                                   serve, tmp_path, monkeypatch):
    archives = [a for a, _ in (r['binary'] for r in data_mod._RELEASES.values())]
    for archive in archives:
        if not os.path.isfile(os.path.join(data_root, archive)):
            pytest.fail('%s missing in %s: run `make data` (it writes the archives too)'
                        % (archive, data_root))
    mirror = serve(data_root)
    monkeypatch.setattr(data_mod, 'OFFICIAL_URL', mirror.url)
    monkeypatch.setenv('GLUON_PYDMN_CACHE', str(tmp_path / 'cache'))
    root = tmp_path / 'data'
    folders = download_command.main(['data', '--data-root', str(root), '--no-progress'])
    assert folders == [str(tmp_path / 'cache' / 'cifar' / f) for f in (
        'cifar-10-batches-bin', 'cifar-100-binary')]
    assert sorted(mirror.requests) == sorted('/' + a for a in archives)
    assert sorted(os.listdir(root)) == sorted(archives)  # no partial or temporary files
    test10 = data_mod.CIFAR10(str(root), train=False)
    np.testing.assert_array_equal(test10.images, cifar10_test.images)
    np.testing.assert_array_equal(test10.labels, cifar10_test.labels)
    coarse = data_mod.CIFAR100(str(root), train=False, label_mode='coarse')
    np.testing.assert_array_equal(coarse.labels, cifar100_test['coarse'].labels)
    assert len(data_mod.CIFAR10(str(root), train=True)) == 50000
    # a second call finds the archives and fetches nothing
    data_mod.download(str(root))
    assert len(mirror.requests) == len(archives)


def test_cifar_download_failure_names_the_url_and_leaves_nothing(serve, tmp_path, monkeypatch,
                                                                capsys):
    (tmp_path / 'empty').mkdir()
    mirror = serve(tmp_path / 'empty')  # a server without the files: HTTP 404
    monkeypatch.setattr(data_mod, 'OFFICIAL_URL', mirror.url)
    root = tmp_path / 'data'
    with pytest.raises(data_mod.DataNotFoundError,
                       match=r'could not download %scifar-10-binary\.tar\.gz.*404'
                       % mirror.url.replace('.', r'\.')):
        data_mod.CIFAR10(str(root), train=False, download=True)
    assert os.listdir(root) == []
    with pytest.raises(SystemExit) as exit_info:  # the command line: one line, status 2
        cli.run(data_mod.main, ['download', str(root)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()  # 'downloading ...', then the error
    assert err[-1].startswith('error: could not download ') and 'Traceback' not in err[-1]


def _release_files(name):
    return list(pretrained_cfg(name, 10).release_files)


def test_release_download_checks_sha1_and_loads(release_root, cifar10_test, serve, tmp_path,
                                                monkeypatch):
    name = 'pydmobilenet_concat_29_0.25'
    mirror = serve(release_root)
    monkeypatch.setattr(pretrained, 'RELEASE_RAW_URL', mirror.url)
    dst = tmp_path / 'release'
    pretrained.download_release(str(dst), files=_release_files(name), progress=False)
    assert sorted(mirror.requests) == sorted('/' + f for f in _release_files(name))
    net = load_pretrained_quietly(name, 10, str(dst))
    reference = load_pretrained_quietly(name, 10, release_root)
    x = data_mod.normalize_images(cifar10_test.images[:16])
    np.testing.assert_array_equal(net(x).asnumpy(), reference(x).asnumpy())
    # files already present with the right SHA-1 are not fetched again
    pretrained.download_release(str(dst), files=_release_files(name), progress=False)
    assert len(mirror.requests) == 2


def test_release_download_refuses_a_corrupt_file(release_root, serve, tmp_path, monkeypatch):
    name = 'mobilenet_29_0.5'
    site = tmp_path / 'site'
    for rel in _release_files(name):
        os.makedirs(site / os.path.dirname(rel), exist_ok=True)
        content = open(os.path.join(release_root, rel), 'rb').read()
        (site / rel).write_bytes(content[:-1] + bytes([content[-1] ^ 1]))  # one bit flipped
    monkeypatch.setattr(pretrained, 'RELEASE_RAW_URL', serve(site).url)
    dst = tmp_path / 'release'
    with pytest.raises(ConversionError, match='SHA-1 mismatch'):
        pretrained.download_release(str(dst), files=_release_files(name), progress=False)
    assert [f for _, _, files in os.walk(dst) for f in files] == []


def test_release_download_failure_names_the_url(serve, tmp_path, monkeypatch):
    (tmp_path / 'empty').mkdir()
    mirror = serve(tmp_path / 'empty')
    monkeypatch.setattr(pretrained, 'RELEASE_RAW_URL', mirror.url)
    rel = _release_files('resnet_29_0.5')[0]
    with pytest.raises(pretrained.WeightsNotFoundError,
                       match='could not download %s.*404' % (mirror.url + rel).replace('.', r'\.')):
        pretrained.download_release(str(tmp_path / 'release'), files=[rel], progress=False)
    with pytest.raises(pretrained.WeightsNotFoundError):
        get_model('resnet_29_0.5', pretrained=True, root=str(tmp_path / 'release'))
