"""Fixtures of the SGE tests; the helpers live in sge_testkit.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sge_testkit import SGECluster


@pytest.fixture
def sge(sge_cell: None, tmp_path: Path) -> Iterator[SGECluster]:
    """The real SGE cell for one test, with a job name no other run uses; its jobs are deleted afterwards."""
    cluster = SGECluster(tmp_path)
    yield cluster
    cluster.cleanup()
