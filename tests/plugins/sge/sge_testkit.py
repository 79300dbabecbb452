"""The conformance kit's cluster on the real one-host SGE cell (scripts/sge-cluster.sh)."""

from __future__ import annotations

import subprocess
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from b2core.testing.conformance import ShimmedCluster
from b2core_sge.backend import expand_tasks

RECORDED = Path(__file__).parent / "recorded"


class SGECluster(ShimmedCluster):
    """One test's steering scripts on the real cell, with a unique job name and counted commands."""

    batch_system = "sge"
    submit_tool = "qsub"
    cancel_tool = "qdel"
    tools = ("qsub", "qstat", "qacct", "qdel")

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.job_name = f"b2t-{uuid.uuid4().hex[:10]}"

    @property
    def settings(self) -> dict[str, Any]:
        """SGE and the job name no other test run uses (the cell is shared)."""
        return {"batch_system": "sge", "job_name": self.job_name}

    def active_ids(self) -> list[str]:
        """This run's tasks still in qstat (pending, running or in error state), as `JOB.INDEX`."""
        answer = subprocess.run(["qstat", "-xml"], capture_output=True, text=True, check=True).stdout
        return [
            f"{entry.findtext('JB_job_number')}.{index}"
            for entry in ElementTree.fromstring(answer).iter("job_list")
            if entry.findtext("JB_name") == self.job_name
            for index in expand_tasks(entry.findtext("tasks") or "1")
        ]

    def cleanup(self) -> None:
        """Also delete the run's jobs (qdel takes a job name), so none holds slots the next tests wait for."""
        super().cleanup()
        subprocess.run(["qdel", self.job_name], capture_output=True, check=False)
