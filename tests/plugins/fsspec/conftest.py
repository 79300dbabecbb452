"""Fixtures of the fsspec tests: fsspec's real local file system through file:// URLs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "remote"))  # the shared scenarios
pytest.register_assert_rewrite("remote_scenarios")

from remote_scenarios import Protocol, flow, fs  # noqa: E402

__all__ = ["flow", "fs"]  # shared fixtures

IMPORTS = "from b2core_fsspec import FsspecSystem as System, FsspecTarget as Target"


@pytest.fixture
def storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file:// URL of a fresh local folder, standing for the storage."""
    return tmp_path_factory.mktemp("storage").as_uri()


@pytest.fixture
def protocol(storage: str) -> Protocol:
    """Steering scripts' view of the storage."""
    return Protocol(imports=IMPORTS, server=storage)
