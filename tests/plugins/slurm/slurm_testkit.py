"""Helpers for the Slurm tests: the conformance kit's cluster on the real local Slurm, and sacct.

A module with its own name (not conftest) so `from slurm_testkit import ...` is unambiguous when
several test folders have a conftest.py.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from b2core.testing.conformance import ShimmedCluster

RECORDED = Path(__file__).parent / "recorded"


class Workflow(ShimmedCluster):
    """The test's steering scripts on the real Slurm cluster, with a unique job name and counted commands."""

    batch_system = "slurm"
    submit_tool = "sbatch"
    cancel_tool = "scancel"
    tools = ("sbatch", "squeue", "sacct", "scancel", "scontrol")

    def __init__(self, folder: Path, job_name: str) -> None:
        super().__init__(folder)
        self.job_name = job_name

    @property
    def settings(self) -> dict[str, Any]:
        """Slurm and the job name no other test run uses (the cluster is shared)."""
        return {"batch_system": "slurm", "job_name": self.job_name}

    def write(self, source: str) -> Path:
        """Write the steering script; {job_name} in the source is replaced by this run's job name."""
        return self.script(source.replace("{job_name}", self.job_name))

    def active_ids(self) -> list[str]:
        """This run's pending and running jobs (array elements as `123_4`)."""
        argv = ["squeue", "--noheader", "-r", "--name", self.job_name, "--format=%i"]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()

    def cleanup(self) -> None:
        """Also cancel the run's jobs, so a failed test leaves none holding CPUs the next tests wait for."""
        super().cleanup()
        subprocess.run(["scancel", "--name", self.job_name], capture_output=True, check=False)


def new_workflow(folder: Path) -> Workflow:
    """A workflow in folder with a job name no other test run uses."""
    return Workflow(folder, f"b2t-{uuid.uuid4().hex[:10]}")


def sacct(*job_ids: str, name: str | None = None, expect: int | None = None) -> list[dict[str, str]]:
    """Accounting records (allocations only) of job ids or of a job name from the last day.

    With `expect`, waits up to 20 s for that many records: slurmdbd lags a moment behind slurmctld,
    and a fresh record's JobName may still read "allocation".
    """
    argv = ["sacct", "-X", "-n", "-P", "-o", "JobID,JobName,State,ExitCode"]
    argv += ["-j", ",".join(job_ids)] if job_ids else ["--name", str(name), "-S", "now-1days"]
    deadline = time.monotonic() + 20
    while True:
        output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        rows = []
        for line in output.splitlines():
            if line.strip():
                job_id, job_name, state, exit_code = line.split("|")
                rows.append({"JobID": job_id, "JobName": job_name, "State": state, "ExitCode": exit_code})
        settled = all(r["JobName"] != "allocation" and r["State"] not in ("PENDING", "RUNNING") for r in rows)
        if expect is None or (len(rows) >= expect and settled) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def squeue_state(job_id: str) -> str:
    """The state squeue shows for one job (or array element), '' when it does not show it."""
    result = subprocess.run(
        ["squeue", "--noheader", "-r", "-t", "all", "--format=%i|%T", "-j", job_id.split("_")[0]],
        capture_output=True,
        text=True,
    )
    for line in result.stdout.splitlines():
        shown, _, state = line.partition("|")
        if shown == job_id:
            return state
    return ""
