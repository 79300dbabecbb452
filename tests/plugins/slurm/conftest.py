"""Fixtures of the Slurm tests; the helpers themselves live in slurm_testkit.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_testkit import Workflow, new_workflow


@pytest.fixture
def workflow(tmp_path: Path) -> Iterator[Workflow]:
    """A fresh workflow folder with a job name no other test run uses; its jobs are cancelled afterwards."""
    flow = new_workflow(tmp_path)
    yield flow
    flow.cleanup()
