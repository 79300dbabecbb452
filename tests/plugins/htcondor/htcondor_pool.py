"""The HTCondor tests' stand-in pool: the shared one from tests/standins with htcondor first."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "standins"))

from standin_cluster import BIN, StandinCluster

__all__ = ["BIN", "Condor"]


class Condor(StandinCluster):
    """A private stand-in HTCondor pool for one test."""

    batch_system = "htcondor"
    submit_tool = "condor_submit"
    cancel_tool = "condor_rm"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, ["htcondor"])

    def active_ids(self) -> list[str]:
        """Job ids (ClusterId.ProcId) still in the stand-in's queue."""
        return [job_id for job_id, job in self.jobs().items() if job["in_queue"]]
