"""Fixtures of the Slurm tests; the helpers themselves live in slurm_testkit.py."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_testkit import Workflow, new_workflow


@pytest.fixture
def workflow(tmp_path: Path) -> Iterator[Workflow]:
    """A fresh workflow folder with a job name no other test run uses.

    Afterwards its jobs are cancelled, so a failed test leaves no job behind that would hold CPUs
    the next tests wait for.
    """
    flow = new_workflow(tmp_path)
    yield flow
    if shutil.which("scancel"):
        subprocess.run(["scancel", "--name", flow.job_name], capture_output=True, check=False)
