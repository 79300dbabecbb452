"""The shared server scenarios through fsspec on real FTP servers (pyftpdlib; fsspec's own ftp:// file system).

fsspec's retry path: a killed upload, a server stopped mid-run, a dead first door. FTP because fsspec
ships its client and a real server runs from PyPI without root; nothing here is specific to FTP in
b2core-fsspec.
"""

from __future__ import annotations

import dataclasses
import ftplib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from remote_scenarios import PrivateServer, Protocol, ServerFaultScenarios, free_port, launch

if os.environ.get("B2CORE_REQUIRE_CLUSTERS") != "1":  # there, a missing server fails the tests below
    pytest.importorskip("pyftpdlib", reason="the FTP server of these tests (pip install pyftpdlib, as tox -e fsspec)")


def answers(port: int) -> bool:
    """Whether an FTP server takes an anonymous login on the port."""
    try:
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", port, timeout=5)
            ftp.login()
    except (OSError, EOFError, ftplib.Error):
        return False
    return True


def start_ftp_server(folder: Path) -> PrivateServer:
    """A real FTP server with anonymous write access to `folder`, on its own port."""
    folder.mkdir()
    port = free_port()
    argv = [sys.executable, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", str(port), "-w", "-d", str(folder)]
    return launch(argv, f"ftp://127.0.0.1:{port}", lambda: answers(port), folder.parent / f"{folder.name}.log")


@pytest.fixture
def storage_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    """The FTP server the outputs live on (it keeps running)."""
    server = start_ftp_server(tmp_path_factory.mktemp("ftp") / "storage")
    yield server
    server.stop()


@pytest.fixture
def protocol(protocol: Protocol, storage_server: PrivateServer) -> Protocol:
    """The folder's fsspec protocol, on the FTP storage instead of file://."""
    return dataclasses.replace(protocol, server=storage_server.url)


@pytest.fixture
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    """A second FTP server that the test stops."""
    server = start_ftp_server(tmp_path_factory.mktemp("ftp") / "private")
    yield server
    server.stop()


class TestFsspecServerFaults(ServerFaultScenarios):
    """Every shared scenario through fsspec's ftp:// file system on real FTP servers."""
