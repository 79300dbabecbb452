"""The SGE plugin on the real cell beyond the conformance kit: auto detection and `b2core plugins`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from sge_testkit import SGECluster


def test_auto_picks_sge_when_qstat_answers(sge: SGECluster) -> None:
    """batch_system left at "auto" (only b2core-sge installed in this env) submits to the cell."""
    if importlib.util.find_spec("b2core_slurm"):
        pytest.skip("b2core-slurm is installed here too and outranks sge (tox -e sge installs b2core-sge alone)")
    result = sge.run(sge.sleepers(0, 2, settings={"job_name": sge.job_name}), timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert {job["backend"] for job in sge.job_store()} == {"sge"} and sge.count("qsub") == 1


def test_b2core_plugins_lists_sge_as_available(sge: SGECluster) -> None:
    """`b2core plugins` shows the backend, its distribution and that qstat answers."""
    listing = subprocess.run(
        [str(Path(sys.executable).parent / "b2core"), "plugins"], capture_output=True, text=True, env=sge.env()
    ).stdout
    line = next(line for line in listing.splitlines() if line.split()[:1] == ["sge"])
    assert "b2core-sge" in line and "available (priority 5: qstat answers)" in line
