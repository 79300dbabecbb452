"""The HTCondor tests' stand-in pool: the shared one from tests/standins with htcondor first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "standins"))

from standin_cluster import BIN, StandinCluster

__all__ = ["BIN", "Condor"]

#: the status commands other batch plugins' `auto` detection asks; where a real Slurm, Grid Engine or LSF
#: answers them (this machine runs Slurm and SGE), auto would pick that system in a venv with its plugin
OTHER_SYSTEMS_PROBES = ("squeue", "qstat", "bjobs")
DOWN = '#!/bin/sh\necho "$(basename "$0"): cannot reach the batch system (down for the HTCondor tests)" >&2\nexit 1\n'


class Condor(StandinCluster):
    """A private stand-in HTCondor pool for one test."""

    batch_system = "htcondor"
    submit_tool = "condor_submit"
    cancel_tool = "condor_rm"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, ["htcondor"])

    def env(self) -> dict[str, str]:
        """A machine where only the stand-ins' batch systems answer: the other systems' status commands
        come first on PATH and fail as when their daemon is down."""
        env = super().env()
        down = self.state / "other-systems-down"
        for command in OTHER_SYSTEMS_PROBES:
            script = down / command
            if not script.exists() and not any((BIN[name] / command).exists() for name in self.systems):
                down.mkdir(exist_ok=True)
                script.write_text(DOWN)
                script.chmod(0o755)
        env["PATH"] = f"{down}{os.pathsep}{env['PATH']}"
        return env

    def active_ids(self) -> list[str]:
        """Job ids (ClusterId.ProcId) still in the stand-in's queue."""
        return [job_id for job_id, job in self.jobs().items() if job["in_queue"]]
