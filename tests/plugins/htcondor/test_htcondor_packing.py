"""The packing scenarios (tasks_per_job) through the HTCondor stand-ins."""

from __future__ import annotations

import pytest
from packing_scenarios import PackingScenarios, PackingSite


@pytest.fixture
def packing_site(condor):
    """The test's private stand-in pool; packs leave after a short quiet time."""
    site = PackingSite(condor.folder, "htcondor", {**condor.env(), "B2CORE_PACK_WAIT": "0.3"})
    yield site
    site.stop()


class TestHtcondorPacking(PackingScenarios):
    """The packing scenarios every backend runs, on HTCondor."""
