"""The backend conformance kit (b2core.testing.conformance) on the stand-in HTCondor pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from b2core.testing.conformance import BackendConformance
from htcondor_pool import Condor


class TestHTCondorConformance(BackendConformance):
    """Every conformance scenario through condor_submit/condor_q/condor_rm stand-ins."""

    @pytest.fixture
    def cluster(self, condor: Condor) -> Iterator[Condor]:
        """The test's private stand-in pool."""
        yield condor

    def test_many_light_jobs_take_few_submissions(self, cluster: Condor) -> None:  # type: ignore[override]
        """Also: every condor_q asks for all clusters of the run, and each wrapper was queued once."""
        super().test_many_light_jobs_take_few_submissions(cluster)
        clusters = sorted({str(job["ad"]["ClusterId"]) for job in cluster.jobs().values()})
        assert all(call["argv"][-len(clusters) :] == clusters for call in cluster.calls("condor_q"))
        assert len({job["ad"]["Cmd"] for job in cluster.jobs().values()}) == len(cluster.jobs()) == self.many_jobs

    def test_ctrl_c_cancels_every_job_in_one_command(self, cluster: Condor) -> None:  # type: ignore[override]
        """Also: the one condor_rm names every job."""
        super().test_ctrl_c_cancels_every_job_in_one_command(cluster)
        [removal] = cluster.calls("condor_rm")
        assert len(removal["argv"]) == 1 + self.in_flight
