"""Shared fixtures: a clean settings layer and a scratch workflow folder for every test."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# the conformance kit asserts in its scenarios: show the values on failure
pytest.register_assert_rewrite("b2core.testing.conformance")

REQUIRE_CLUSTERS = os.environ.get("B2CORE_REQUIRE_CLUSTERS") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test that needs a real cluster, but fail it in CI (B2CORE_REQUIRE_CLUSTERS=1)."""
    if REQUIRE_CLUSTERS:
        pytest.fail(f"{reason} (B2CORE_REQUIRE_CLUSTERS=1 turns this skip into a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Require the local Slurm cluster started by scripts/slurm-cluster.sh, checked once per session."""
    # once, before the tests load the node: CI saw the check fail mid-run while the cluster ran other tests' jobs
    if shutil.which("sbatch") is None:
        skip_or_fail("Slurm is not installed (run scripts/slurm-cluster.sh start as root)")
    status = subprocess.run(["bash", "scripts/slurm-cluster.sh", "status"], capture_output=True, text=True)
    if status.returncode != 0:
        said = status.stdout.strip()
        skip_or_fail(f"the local Slurm cluster is not running (scripts/slurm-cluster.sh start): {said}")


@pytest.fixture(scope="session")
def sge_cell() -> None:
    """Require the local SGE cell started by scripts/sge-cluster.sh (checked once per session: the check takes 2 s)."""
    if shutil.which("qsub") is None:
        skip_or_fail("Grid Engine is not installed (run scripts/sge-cluster.sh start as root)")
    if subprocess.run(["bash", "scripts/sge-cluster.sh", "status"], capture_output=True).returncode != 0:
        skip_or_fail("the local SGE cell is not running (scripts/sge-cluster.sh start)")


def _require_server(script: str, what: str) -> None:
    if subprocess.run(["bash", f"scripts/{script}", "status"], capture_output=True).returncode != 0:
        skip_or_fail(f"the {what} does not answer (run scripts/{script} start as root)")


@pytest.fixture
def xrootd_server() -> str:
    """Require the XRootD server started by scripts/xrootd-server.sh; its URL."""
    _require_server("xrootd-server.sh", "XRootD server on localhost:1094")
    return "root://localhost:1094"


@pytest.fixture
def webdav_server() -> str:
    """Require the HTTPS WebDAV server started by scripts/webdav-server.sh; its URL."""
    _require_server("webdav-server.sh", "WebDAV server on localhost:8443")
    return "https://localhost:8443"


@pytest.fixture
def small_tmpfs() -> Iterator[Callable[[Path, str], Path]]:
    """Mount small tmpfs file systems (a really full disk); needs root. Unmounted afterwards."""
    mounted: list[Path] = []

    def mount(folder: Path, size: str = "1m") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            skip_or_fail(f"cannot mount a tmpfs as a full disk (needs root): {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Isolate each test from set_setting calls, B2CORE_ variables and the user's settings files."""
    from b2core import plugins, settings

    for name in list(os.environ):
        if name.startswith("B2CORE_") and name != "B2CORE_REQUIRE_CLUSTERS" and name != "B2CORE_STANDIN_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setattr(settings, "_global_settings", {})
    settings.forget_settings_files()
    plugins.resolve_auto.cache_clear()


@dataclass
class Unprivileged:
    """Runs commands bound by file modes, as every user but root is (root without its overriding capabilities)."""

    folder: Path
    prefix: list[str]

    def argv(self, *words: str) -> list[str]:
        """A command line run as that user."""
        return [*self.prefix, *words]


@pytest.fixture
def unprivileged() -> Iterator[Unprivileged]:
    """A folder for files whose modes the test sets, and a command prefix that makes root obey file modes.

    Root keeps its uid (so it can still run the test environment's interpreter, which may live in folders
    only root may enter) but loses the capabilities that override file modes; any other user is bound by
    them already."""
    folder = Path(tempfile.mkdtemp(prefix="b2core-unprivileged-"))
    folder.chmod(0o755)
    drop = "--bounding-set=-dac_override,-dac_read_search,-fowner"
    prefix = ["setpriv", drop, "--inh-caps=-all", "--"] if os.geteuid() == 0 else []
    yield Unprivileged(folder, prefix)
    shutil.rmtree(folder, ignore_errors=True)
