"""WebDAVSystem against real servers: b2luigi's methods, credentials, digests (right, wrong, recorded), redirects."""

from __future__ import annotations

import os
import uuid
import zlib
from pathlib import Path

import b2core
import pytest
from b2core.errors import PermanentRemoteError, SettingsError, TransientRemoteError
from b2core.remote.checksums import local_checksum
from b2core_webdav import WebDAVSystem
from b2core_webdav.client import EXPECT_FROM
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


def test_digests_of_a_server_that_offers_them_pass_verification(protocol, digest_server, tmp_path: Path) -> None:
    server, data = digest_server
    fs = protocol.file_system(server.url)
    local = tmp_path / "a.bin"
    local.write_bytes(os.urandom(100_000))
    fs.copy_file_to_remote(str(local), "/d/a.bin")
    on_disk = (data / "d" / "a.bin").read_bytes()
    assert fs.checksum("/d/a.bin") == f"{zlib.adler32(on_disk):08x}" == local_checksum(str(local), "adler32")
    (data / "d" / "a.bin").write_bytes(b"changed on the server")  # the file the next download checks against
    fs.copy_file_from_remote("/d/a.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == b"changed on the server"
    assert fs.checksum("/d/a.bin") == f"{zlib.adler32(b'changed on the server'):08x}"


def test_a_wrong_digest_fails_the_transfer_naming_both_checksums(protocol, wrong_digest_server, tmp_path: Path) -> None:
    server, data = wrong_digest_server
    fs = protocol.file_system(server.url)
    b2core.set_setting("remote_retries", 1)
    b2core.set_setting("remote_retry_wait", 0.01)
    local = tmp_path / "a.bin"
    local.write_bytes(os.urandom(100_000))
    ours = local_checksum(str(local), "adler32")
    with pytest.raises(
        TransientRemoteError, match=rf"a\.bin: adler32 differs: local {ours}, server \w{{8}}.*gave up after 2"
    ):
        fs.copy_file_to_remote(str(local), "/d/a.bin")
    assert list((data / "d").iterdir()) == [], "neither the final name nor the temporary upload is left"
    (data / "d" / "b.bin").write_bytes(local.read_bytes())  # on the server by other means
    with pytest.raises(TransientRemoteError, match=rf"Could not download .*b\.bin: adler32 differs: local {ours}"):
        fs.copy_file_from_remote("/d/b.bin", str(tmp_path / "b.bin"))
    assert not (tmp_path / "b.bin").exists() and list(tmp_path.iterdir()) == [local]


@pytest.mark.parametrize("size", [10_000, 2 * EXPECT_FROM], ids=["body-at-once", "expect-100-continue"])
def test_a_door_that_redirects_to_a_pool(protocol, door_and_pool, size: int, tmp_path: Path) -> None:
    door, pool = door_and_pool  # the door answers every GET and PUT with 307 to the pool, as dCache does
    fs = protocol.file_system(door.url)
    local = tmp_path / "a.bin"
    local.write_bytes(os.urandom(size))
    fs.copy_file_to_remote(str(local), "/d/a.bin")
    assert fs.exists("/d/a.bin") and protocol.file_system(pool.url).exists("/d/a.bin")
    fs.copy_file_from_remote("/d/a.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()


def test_a_connection_the_server_dropped_is_replaced_without_a_retry(protocol, restartable_server, tmp_path) -> None:
    url, restart = restartable_server
    fs = protocol.file_system(url)
    b2core.set_setting("remote_retries", 0)  # a request on the dropped connection would fail at once
    local = tmp_path / "a.txt"
    local.write_text("x\n")
    fs.copy_file_to_remote(str(local), "/a.txt")
    restart()  # the kept-alive connection is closed by the server, as by its idle timeout
    fs.copy_file_to_remote(str(local), "/b.txt")
    assert fs.exists("/a.txt") and fs.exists("/b.txt")


def test_a_server_without_digests_is_asked_once_and_transfers_still_work(fs, folder, tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_text("x\n")
    fs.copy_file_to_remote(str(local), f"{folder}/a.txt")  # wsgidav itself answers no Want-Digest
    assert fs.checksum(f"{folder}/a.txt") is None
    fs.copy_file_from_remote(f"{folder}/a.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "x\n"


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
