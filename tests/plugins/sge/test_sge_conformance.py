"""The backend conformance kit (b2core.testing.conformance) on the real one-host SGE cell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from b2core.testing.conformance import BackendConformance
from sge_testkit import SGECluster


class TestSGEConformance(BackendConformance):
    """Every conformance scenario against scripts/sge-cluster.sh."""

    many_jobs = 100

    @pytest.fixture
    def cluster(self, sge: SGECluster) -> Iterator[SGECluster]:
        """The test's workflow on the shared cell."""
        yield sge
