"""Fixtures of the WebDAV tests: the real HTTPS server of scripts/webdav-server.sh and private ones to stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "remote"))  # the shared scenarios
pytest.register_assert_rewrite("remote_scenarios")

from remote_scenarios import PrivateServer, Protocol, flow, free_port, fs, launch  # noqa: E402

__all__ = ["flow", "fs"]  # shared fixtures

BASE = Path("/var/lib/b2core-webdav")  # where scripts/webdav-server.sh keeps venv, server and credentials
PKI = BASE / "pki"
IMPORTS = "from b2core_webdav import WebDAVSystem as System, WebDAVTarget as Target"


@pytest.fixture
def protocol(webdav_server: str) -> Protocol:
    """Steering scripts' view of the real server, with the test user's proxy and the test CA."""
    settings = {"X509_USER_PROXY": str(PKI / "x509up"), "X509_CERT_DIR": str(PKI / "certificates")}
    return Protocol(imports=IMPORTS, server=webdav_server, settings=settings)


def start_private_server(
    *options: str, folder: Path | None = None, port: int | None = None
) -> tuple[PrivateServer, Path]:
    """A private WebDAV server (the shared one's program and credentials, server.py's options) and its folder.

    Given a folder, it serves that one's data (a second server on the same files, as a dCache pool).
    """
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="b2core-private-webdav-"))
        (folder / "data").mkdir()
        (folder / "pki").symlink_to(PKI)
    port = port or free_port()
    url = f"https://localhost:{port}"
    answers = ["curl", "-sf", "-X", "PROPFIND", "-H", "Depth: 0", "--cert", str(PKI / "x509up")]
    answers += ["--capath", str(PKI / "certificates"), f"{url}/", "-o", os.devnull]
    argv = [str(BASE / "venv/bin/python"), str(BASE / "server.py"), str(folder), str(port), *options]
    server = launch(
        argv,
        url,
        lambda: subprocess.run(answers, capture_output=True).returncode == 0,
        folder / f"server-{port}.log",
    )
    return server, folder


def served(*options: str) -> Iterator[tuple[PrivateServer, Path]]:
    """A private server with server.py's options and its data folder, for the test; stopped and removed after."""
    server, folder = start_private_server(*options)
    yield server, folder / "data"
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def private_server(webdav_server: str) -> Iterator[PrivateServer]:
    """A second, private WebDAV server, stopped afterwards."""
    yield from (server for server, _data in served())


@pytest.fixture
def digest_server(webdav_server: str) -> Iterator[tuple[PrivateServer, Path]]:
    """A private WebDAV server that answers Want-Digest: adler32 as dCache does, and its data folder."""
    yield from served("--digests")


@pytest.fixture
def wrong_digest_server(webdav_server: str) -> Iterator[tuple[PrivateServer, Path]]:
    """A private WebDAV server whose adler32 answers are wrong, as if every file changed on its way."""
    yield from served("--wrong-digests")


@pytest.fixture
def door_and_pool(webdav_server: str) -> Iterator[tuple[PrivateServer, PrivateServer]]:
    """A door that redirects every GET and PUT (307) to a pool serving the same files, as dCache does."""
    pool, folder = start_private_server()
    door, _ = start_private_server("--redirect-to", pool.url, folder=folder)
    yield door, pool
    door.stop()
    pool.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def restartable_server(webdav_server: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """A private server's URL and a function that stops it and starts it again (same port, same files)."""
    started = [start_private_server()]

    def restart() -> None:
        server, folder = started[-1]
        server.stop()
        started.append(start_private_server(folder=folder, port=int(server.url.rsplit(":", 1)[1])))

    yield started[0][0].url, restart
    started[-1][0].stop()
    shutil.rmtree(started[0][1], ignore_errors=True)
