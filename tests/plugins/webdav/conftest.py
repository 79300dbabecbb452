"""Fixtures of the WebDAV tests: the real HTTPS server of scripts/webdav-server.sh and private ones to stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


def start_private_server(digests: bool = False) -> tuple[PrivateServer, Path]:
    """A private WebDAV server (the shared one's program and credentials) and its data folder."""
    folder = Path(tempfile.mkdtemp(prefix="b2core-private-webdav-"))
    (folder / "data").mkdir()
    (folder / "pki").symlink_to(PKI)
    port = free_port()
    url = f"https://localhost:{port}"
    answers = ["curl", "-sf", "-X", "PROPFIND", "-H", "Depth: 0", "--cert", str(PKI / "x509up")]
    answers += ["--capath", str(PKI / "certificates"), f"{url}/", "-o", os.devnull]
    argv = [str(BASE / "venv/bin/python"), str(BASE / "server.py"), str(folder), str(port)]
    server = launch(
        argv + (["--digests"] if digests else []),
        url,
        lambda: subprocess.run(answers, capture_output=True).returncode == 0,
        folder / "server.log",
    )
    return server, folder


@pytest.fixture
def private_server(webdav_server: str) -> Iterator[PrivateServer]:
    """A second, private WebDAV server, stopped afterwards."""
    server, folder = start_private_server()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def digest_server(webdav_server: str) -> Iterator[tuple[PrivateServer, Path]]:
    """A private WebDAV server that answers Want-Digest: adler32 as dCache does, and its data folder."""
    server, folder = start_private_server(digests=True)
    yield server, folder / "data"
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)
