"""Fixtures of the XRootD tests: the real server of scripts/xrootd-server.sh and private ones to stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
pytest.register_assert_rewrite("remote_scenarios")

from remote_scenarios import Protocol, RemoteWorkflow, free_port  # noqa: E402

IMPORTS = "from b2core_xrootd import XRootDSystem as System, XRootDTarget as Target"


@pytest.fixture
def protocol(xrootd_server: str) -> Protocol:
    """Steering scripts' view of the real server."""
    return Protocol(imports=IMPORTS, server=xrootd_server)


@pytest.fixture
def fs(protocol: Protocol):
    """An XRootDSystem on the real server, in this process."""
    return protocol.file_system()


@pytest.fixture
def flow(tmp_path: Path, protocol: Protocol, fs) -> Iterator[RemoteWorkflow]:
    """A steering-script folder whose outputs go below a fresh server folder, removed afterwards."""
    workflow = RemoteWorkflow(tmp_path, protocol)
    yield workflow
    fs.remove(workflow.result_dir)


@dataclass
class PrivateServer:
    """An xrootd daemon of one test, on its own port, that the test may stop."""

    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop it as an administrator would (SIGTERM), waiting until it is gone."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def private_xrootd(xrootd_server: str) -> Iterator[PrivateServer]:
    """A second, private XRootD server (same packages as the shared one), stopped afterwards."""
    folder = tempfile.mkdtemp(prefix="b2core-private-xrootd-")
    for sub in ("data", "admin"):
        os.makedirs(f"{folder}/{sub}")
    port = free_port()
    config = f"{folder}/xrootd.cfg"
    Path(config).write_text(
        f"all.export /\noss.localroot {folder}/data\nxrd.port {port}\nall.adminpath {folder}/admin\n"
        f"all.pidpath {folder}/admin\nxrootd.chksum adler32\n"
    )
    user = ["-R", "nobody"] if os.geteuid() == 0 else []
    if user:
        shutil.chown(folder, "nobody")
        for sub in ("data", "admin"):
            shutil.chown(f"{folder}/{sub}", "nobody")
    process = subprocess.Popen(
        ["xrootd", "-c", config, "-l", f"{folder}/xrootd.log", *user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = PrivateServer(f"root://localhost:{port}", process)
    deadline = time.monotonic() + 30
    while subprocess.run(["xrdfs", f"localhost:{port}", "query", "config", "version"], capture_output=True).returncode:
        assert process.poll() is None and time.monotonic() < deadline, Path(f"{folder}/xrootd.log").read_text()
        time.sleep(0.1)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)
