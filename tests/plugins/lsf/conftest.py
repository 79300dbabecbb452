"""Fixtures for the LSF plugin tests: the stand-in bsub/bjobs/bkill on PATH, steering scripts in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lsf_cluster import BIN, LsfCluster


@pytest.fixture
def lsf(tmp_path: Path) -> Iterator[LsfCluster]:
    """A stand-in LSF cluster private to the test; the stand-ins ship in this repository, so never a skip."""
    assert (BIN["lsf"] / "bsub").exists(), f"the LSF stand-ins are missing: {BIN['lsf']}"
    cluster = LsfCluster(tmp_path)
    yield cluster
    cluster.cleanup()
