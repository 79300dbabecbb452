"""The LSF tests' stand-in cluster: the shared one from tests/standins with lsf first."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "standins"))

from standin_cluster import BIN, StandinCluster

__all__ = ["BIN", "LsfCluster"]


class LsfCluster(StandinCluster):
    """A private stand-in LSF cluster for one test."""

    batch_system = "lsf"
    submit_tool = "bsub"
    cancel_tool = "bkill"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, ["lsf"])

    def active_ids(self) -> list[str]:
        """Unfinished array elements, spelled `ID[index]` as the backend does."""
        return [f"{job['id']}[{job['index']}]" for job in self.jobs().values() if job["stat"] not in ("DONE", "EXIT")]
