"""The backend conformance kit (b2core.testing.conformance) on the real local Slurm cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from b2core.testing.conformance import BackendConformance
from slurm_testkit import Workflow, sacct

pytestmark = pytest.mark.slurm


class TestSlurmConformance(BackendConformance):
    """Every conformance scenario against scripts/slurm-cluster.sh; Slurm's accounting confirms what ran."""

    many_jobs = 300

    @pytest.fixture
    def cluster(self, slurm_cluster: None, workflow: Workflow) -> Iterator[Workflow]:
        """The test's workflow on the shared cluster (its jobs are cancelled afterwards)."""
        yield workflow

    def test_seeds_example(self, cluster: Workflow) -> None:  # type: ignore[override]
        """Also: sacct has the 11 jobs COMPLETED, and the ten numbers were one array."""
        super().test_seeds_example(cluster)
        jobs = cluster.job_store()
        numbers = {str(job["job_id"]).split("_")[0] for job in jobs if job["family"] == "MyNumberTask"}
        assert len(numbers) == 1
        records = sacct(*[str(job["job_id"]) for job in jobs], expect=11)
        assert {(r["State"], r["ExitCode"]) for r in records} == {("COMPLETED", "0:0")} and len(records) == 11

    def test_many_light_jobs_take_few_submissions(self, cluster: Workflow) -> None:  # type: ignore[override]
        """Also: exactly one Slurm job per task in sacct."""
        super().test_many_light_jobs_take_few_submissions(cluster)
        assert len(sacct(name=cluster.job_name, expect=self.many_jobs)) == self.many_jobs

    def test_failed_job_is_resubmitted(self, cluster: Workflow) -> None:  # type: ignore[override]
        """Also: sacct shows each first attempt FAILED with a non-zero exit code."""
        super().test_failed_job_is_resubmitted(cluster)
        records = {r["JobID"]: r for r in sacct(name=cluster.job_name, expect=4)}
        firsts = [str(job["job_id"]) for job in cluster.job_store() if job["attempt"] == 1]
        assert len(records) == 4 and all(records[job_id]["State"] == "FAILED" for job_id in firsts)

    def test_restart_after_kill_reattaches(self, cluster: Workflow) -> None:  # type: ignore[override]
        """Also: every part and the whole ran exactly once in Slurm's accounting."""
        super().test_restart_after_kill_reattaches(cluster)
        records = sacct(name=cluster.job_name, expect=self.in_flight + 1)
        assert len({r["JobID"] for r in records}) == self.in_flight + 1 and {r["State"] for r in records} == {
            "COMPLETED"
        }
