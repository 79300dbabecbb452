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

    def test_many_light_jobs_take_few_submissions(self, cluster: SGECluster) -> None:  # type: ignore[override]
        """Also: qstat asks about every job at once, never once per job."""
        super().test_many_light_jobs_take_few_submissions(cluster)
        assert cluster.count("qstat") < self.many_jobs / 10
