"""WebDAVSystem against the real server: b2luigi's methods, credentials, and recorded digest answers."""

from __future__ import annotations

import uuid
from pathlib import Path

import b2core
import pytest
from b2core.errors import PermanentRemoteError, SettingsError
from b2core_webdav import WebDAVSystem
from b2core_webdav.system import digest_from_headers
from remote_scenarios import check_b2luigi_methods


@pytest.fixture
def folder(fs):
    path = f"/b2core-tests/{uuid.uuid4().hex}"
    yield path
    fs.remove(path)


def test_b2luigi_methods_on_the_real_server(fs, folder, tmp_path: Path) -> None:
    check_b2luigi_methods(fs, folder, tmp_path)


def test_a_missing_path_is_a_permanent_error_with_the_servers_words(fs, folder) -> None:
    with pytest.raises(PermanentRemoteError, match=r"Could not move (.*)/nothing-here: HTTP 404 Not Found"):
        fs.move(f"{folder}/nothing-here", f"{folder}/b.txt")


def test_missing_proxy_names_the_setting(webdav_server, monkeypatch) -> None:
    monkeypatch.delenv("X509_USER_PROXY", raising=False)
    with pytest.raises(SettingsError, match="X509_USER_PROXY"):
        WebDAVSystem(webdav_server).exists("/")
    b2core.set_setting("X509_USER_PROXY", "/nonexistent/x509up")
    with pytest.raises(SettingsError, match="X509_USER_PROXY names /nonexistent/x509up, which is not a file"):
        WebDAVSystem(webdav_server).exists("/")


def test_digest_header_as_dcache_sends_it() -> None:
    recorded = {"Digest": "adler32=03da0195,md5=n3JDu5qUO8ucM/3rmAs3Mg=="}  # a dCache answer to Want-Digest
    assert digest_from_headers(recorded, "adler32") == "03da0195"
    assert digest_from_headers({"Content-Length": "5"}, "adler32") is None


def test_b2luigi_names_and_import_paths() -> None:
    import b2luigi
    from b2core_webdav import WebDAVTarget
    from b2luigi.core.remote_target import RemoteFileSystem, webdav

    assert webdav.WebDAVSystem is WebDAVSystem is b2core.WebDAVSystem is b2luigi.WebDAVSystem
    assert webdav.WebDAVTarget is WebDAVTarget is b2luigi.WebDAVTarget
    assert issubclass(WebDAVSystem, RemoteFileSystem)
