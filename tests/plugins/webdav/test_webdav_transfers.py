"""Large WebDAV transfers on the real server: bodies over several buffers, keep-alive after them, cut connections."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import b2core
import b2core.remote.filesystem
import pytest
from b2core.errors import TransientRemoteError
from b2core.remote.checksums import local_checksum
from b2core_webdav.client import BLOCK
from remote_scenarios import free_port

SIZE = 2 * BLOCK + 12_345  # three buffers, the last one partly filled


@pytest.fixture
def folder(fs) -> Iterator[str]:
    """A fresh folder on the shared server, removed afterwards."""
    path = f"/b2core-tests/{uuid.uuid4().hex}"
    yield path
    fs.remove(path)


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """A local file of random bytes whose size is no multiple of the client's buffer."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


class CuttingProxy:
    """A TCP proxy in front of a server that forwards `limit` bytes of each answer, then hangs up (both ways)."""

    def __init__(self, upstream: tuple[str, int], limit: int) -> None:
        self.upstream, self.limit = upstream, limit
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.limit), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        """Copy one direction; the server's direction stops after limit bytes and closes both sockets."""
        sent = 0
        try:
            while limit is None or sent < limit:
                data = source.recv(65536 if limit is None else min(65536, limit - sent))
                if not data:
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):  # the other pump may have closed it already
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        """Stop accepting connections."""
        self.listener.close()


def test_a_file_of_several_buffers_round_trips_byte_exact(fs, folder, big_file: Path, tmp_path: Path) -> None:
    fs.copy_file_to_remote(str(big_file), f"{folder}/big.bin")
    assert fs._stat(fs.server_path, f"{folder}/big.bin").size == SIZE
    back = tmp_path / "back.bin"
    fs.copy_file_from_remote(f"{folder}/big.bin", str(back))
    assert back.stat().st_size == SIZE and back.read_bytes() == big_file.read_bytes()


def test_the_kept_alive_connection_serves_the_next_request_after_a_download(
    fs, folder, big_file: Path, tmp_path: Path
) -> None:
    b2core.set_setting("remote_retries", 0)  # a request on a spoilt connection fails instead of being retried
    fs.copy_file_to_remote(str(big_file), f"{folder}/big.bin")
    fs.copy_file_from_remote(f"{folder}/big.bin", str(tmp_path / "back.bin"))
    (connection,) = fs._client()._connections.values()
    sock = connection.sock
    assert fs.exists(f"{folder}/big.bin") and fs.listdir(folder) == [f"{folder}/big.bin"]
    assert connection.sock is sock, "the next requests went over the same TLS connection, not a new one"
    fs.copy_file_from_remote(f"{folder}/big.bin", str(tmp_path / "again.bin"))
    assert (tmp_path / "again.bin").read_bytes() == big_file.read_bytes() and connection.sock is sock


def test_a_connection_cut_mid_body_fails_naming_the_url_and_leaves_no_file(
    protocol, fs, folder, big_file: Path, tmp_path: Path
) -> None:
    fs.copy_file_to_remote(str(big_file), f"{folder}/big.bin")  # straight to the server
    proxy = CuttingProxy(("localhost", 8443), limit=BLOCK + 100_000)  # more than one buffer of the body arrives
    try:
        cut = protocol.file_system(f"https://localhost:{proxy.port}")
        b2core.set_setting("remote_retries", 1)
        b2core.set_setting("remote_retry_wait", 0.01)
        local = tmp_path / "down" / "big.bin"
        url = f"https://localhost:{proxy.port}{folder}/big.bin"
        words = rf"Could not download {url}: the connection closed after \d+ of {SIZE} bytes of the body"
        with pytest.raises(TransientRemoteError, match=words + r".*gave up after 2 attempts"):
            cut.copy_file_from_remote(f"{folder}/big.bin", str(local))
    finally:
        proxy.stop()
    assert list(local.parent.iterdir()) == [], "neither the final name nor the temporary download is left"


def test_the_first_large_upload_to_a_server_without_digests_computes_no_local_checksum(
    fs, folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[str] = []

    def counted(path: str, algorithm: str) -> str:
        computed.append(path)
        return local_checksum(path, algorithm)

    monkeypatch.setattr(b2core.remote.filesystem, "local_checksum", counted)  # counts; the server is real
    local = tmp_path / "large.bin"
    local.write_bytes(os.urandom(b2core.remote.filesystem.OVERLAP_CHECKSUM + 1))
    fs.copy_file_to_remote(str(local), f"{folder}/large.bin")  # wsgidav answers no Want-Digest
    fs.copy_file_to_remote(str(local), f"{folder}/large.bin", force=True)
    assert computed == [] and fs.checksum(f"{folder}/large.bin") is None


def test_a_server_with_digests_checks_the_first_large_upload_and_overlaps_later_ones(
    protocol, digest_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, data = digest_server
    fs = protocol.file_system(server.url)
    computed: list[str] = []

    def counted(path: str, algorithm: str) -> str:
        computed.append(threading.current_thread().name)
        return local_checksum(path, algorithm)

    monkeypatch.setattr(b2core.remote.filesystem, "local_checksum", counted)
    local = tmp_path / "large.bin"
    local.write_bytes(os.urandom(b2core.remote.filesystem.OVERLAP_CHECKSUM + 1))
    fs.copy_file_to_remote(str(local), "/d/large.bin")
    assert computed == [threading.current_thread().name], "after the server answered a digest, in this thread"
    fs.copy_file_to_remote(str(local), "/d/large.bin", force=True)
    assert len(computed) == 2 and computed[1] != computed[0], "the second one during the upload, in a worker"
    assert (data / "d" / "large.bin").read_bytes() == local.read_bytes()


def test_an_answer_that_closes_the_connection_still_delivers_the_whole_body(
    fs, folder, big_file: Path, tmp_path: Path
) -> None:
    fs.copy_file_to_remote(str(big_file), f"{folder}/big.bin")
    back = tmp_path / "back.bin"
    with open(back, "wb") as sink:  # the server answers `Connection: close` too: http.client drops the socket
        answer = fs._client().request("GET", fs.url(f"{folder}/big.bin"), headers={"Connection": "close"}, sink=sink)
    assert answer.status == 200 and answer.headers["Connection"] == "close"
    assert back.read_bytes() == big_file.read_bytes()
    assert fs.exists(f"{folder}/big.bin"), "the next request opens a new connection"
