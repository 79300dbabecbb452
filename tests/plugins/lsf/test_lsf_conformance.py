"""The backend conformance kit (b2core.testing.conformance) on the stand-in LSF cluster."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from b2core.testing.conformance import BackendConformance
from lsf_cluster import LsfCluster


class TestLSFConformance(BackendConformance):
    """Every conformance scenario through bsub/bjobs/bkill stand-ins."""

    @pytest.fixture
    def cluster(self, lsf: LsfCluster) -> Iterator[LsfCluster]:
        """The test's private stand-in cluster."""
        yield lsf

    def test_ctrl_c_cancels_every_job_in_one_command(self, cluster: LsfCluster) -> None:  # type: ignore[override]
        """Also: the one bkill names the array's elements as one range."""
        super().test_ctrl_c_cancels_every_job_in_one_command(cluster)
        [kill] = cluster.calls("bkill")
        assert re.fullmatch(rf"\d+\[1-{self.in_flight}\]", " ".join(kill["argv"][1:])), kill["argv"]
