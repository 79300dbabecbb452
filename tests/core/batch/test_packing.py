"""Packing (tasks_per_job, grouped parameters) on the local backend: the kit's packing scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from b2core.batch.jobstore import ACTIVE_STATES
from b2core.testing.conformance import Cluster
from b2core.testing.packing import PackingConformance


class LocalCluster(Cluster):
    """The local backend: jobs are child processes of the steering process, no batch commands at all."""

    batch_system = "local"
    fast_env = {**Cluster.fast_env, "B2CORE_PACK_WAIT": "0.3"}

    def count(self, tool: str) -> int:
        """The local backend runs no batch system command."""
        return 0

    def active_ids(self) -> list[str]:
        """Job ids the job store still has active."""
        return [str(r["job_id"]) for r in self.job_store() if r["state"] in ACTIVE_STATES and r["job_id"]]

    def kill_next_submitter(self) -> None:
        """Not a scenario of the packing kit: the local backend has no submit command to kill its caller."""
        raise NotImplementedError("the local backend has no submit command")


class TestLocalPacking(PackingConformance):
    """The packing scenarios every backend runs, on the local backend."""

    @pytest.fixture
    def cluster(self, tmp_path: Path) -> Iterator[LocalCluster]:
        """A folder for the test's steering scripts; what they leave running is killed afterwards."""
        cluster = LocalCluster(tmp_path)
        yield cluster
        cluster.cleanup()
