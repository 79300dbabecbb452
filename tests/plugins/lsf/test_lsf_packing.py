"""The packing scenarios (tasks_per_job) through the LSF stand-ins."""

from __future__ import annotations

import pytest
from packing_scenarios import PackingScenarios, PackingSite


@pytest.fixture
def packing_site(lsf):
    """The test's private stand-in LSF cluster; packs leave after a short quiet time."""
    site = PackingSite(lsf.folder, "lsf", {**lsf.env(), "B2CORE_PACK_WAIT": "0.3"})
    yield site
    site.stop()


class TestLsfPacking(PackingScenarios):
    """The packing scenarios every backend runs, on LSF."""
