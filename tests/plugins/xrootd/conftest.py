"""Fixtures of the XRootD tests: the real server of scripts/xrootd-server.sh and private ones to stop."""

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

IMPORTS = "from b2core_xrootd import XRootDSystem as System, XRootDTarget as Target"


@pytest.fixture
def protocol(xrootd_server: str) -> Protocol:
    """Steering scripts' view of the real server."""
    return Protocol(imports=IMPORTS, server=xrootd_server)


def running_private_server(config_lines: str) -> Iterator[PrivateServer]:
    """A private XRootD server (same packages as the shared one) with extra configuration, stopped afterwards."""
    folder = tempfile.mkdtemp(prefix="b2core-private-xrootd-")
    for sub in ("data", "admin"):
        os.makedirs(f"{folder}/{sub}")
    port = free_port()
    config = f"{folder}/xrootd.cfg"
    Path(config).write_text(
        f"all.export /\noss.localroot {folder}/data\nxrd.port {port}\nall.adminpath {folder}/admin\n"
        f"all.pidpath {folder}/admin\n{config_lines}"
    )
    user = ["-R", "nobody"] if os.geteuid() == 0 else []
    if user:
        shutil.chown(folder, "nobody")
        for sub in ("data", "admin"):
            shutil.chown(f"{folder}/{sub}", "nobody")
    answers = ["xrdfs", f"localhost:{port}", "query", "config", "version"]
    server = launch(
        ["xrootd", "-c", config, *user],
        f"root://localhost:{port}",
        lambda: subprocess.run(answers, capture_output=True).returncode == 0,
        Path(folder) / "xrootd.log",
    )
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def private_server(xrootd_server: str) -> Iterator[PrivateServer]:
    """A second, private XRootD server with adler32 checksums like the shared one, stopped afterwards."""
    yield from running_private_server("xrootd.chksum adler32\n")


@pytest.fixture
def server_without_checksums(xrootd_server: str) -> Iterator[PrivateServer]:
    """A private XRootD server configured without checksums (it answers "query chksum is not supported")."""
    yield from running_private_server("")
