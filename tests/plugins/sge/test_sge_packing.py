"""The packing scenarios (tasks_per_job) on the real one-host SGE cell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from packing_scenarios import PackingScenarios, PackingSite
from sge_testkit import SGECluster


@pytest.fixture
def packing_site(sge: SGECluster) -> Iterator[PackingSite]:
    """The cell with a job name of this test only (its jobs are deleted afterwards); packs leave after 1 s."""
    site = PackingSite(sge.folder, "sge", {**sge.env(), "B2CORE_PACK_WAIT": "1"}, {"job_name": sge.job_name})
    yield site
    site.stop()


class TestSGEPacking(PackingScenarios):
    """The packing scenarios every backend runs, on SGE."""
