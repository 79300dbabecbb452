"""The packing scenarios (tasks_per_job) on the real local Slurm cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from packing_scenarios import PackingScenarios, PackingSite

pytestmark = pytest.mark.slurm


@pytest.fixture
def packing_site(slurm_cluster: None, tmp_path: Path):
    """Slurm with a job name of this test only, so whatever it leaves behind is cancelled afterwards."""
    job_name = f"b2p-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
    env.update(B2CORE_POLL_INTERVAL="1", B2CORE_SUBMIT_INTERVAL="0.5", B2CORE_PACK_WAIT="1", PYTHONUNBUFFERED="1")
    settings = {"slurm_settings": {"export": "NONE", "ntasks": 1, "mem": "100MB"}, "job_name": job_name}
    site = PackingSite(tmp_path, "slurm", env, settings)
    yield site
    site.stop()
    if shutil.which("scancel"):
        subprocess.run(["scancel", "--name", job_name], capture_output=True, check=False)


class TestSlurmPacking(PackingScenarios):
    """The packing scenarios every backend runs, on Slurm."""
