"""basf2 path tasks and ROOT file mergers, run as a user runs them: locally, in batch jobs, on Slurm."""

from __future__ import annotations

import subprocess
import sys

import pytest
from workflow import Basf2Workflow, check_analysis, check_failures


def test_analysis_runs_locally_each_task_in_its_own_process(analysis: Basf2Workflow) -> None:
    check_analysis(analysis)


def test_analysis_runs_as_batch_jobs(analysis: Basf2Workflow) -> None:
    check_analysis(analysis, "--batch", B2CORE_BATCH_SYSTEM="local")


@pytest.mark.slurm
def test_analysis_runs_on_the_real_slurm_cluster(analysis: Basf2Workflow, slurm_cluster: None) -> None:
    check_analysis(analysis, "--batch", B2CORE_BATCH_SYSTEM="slurm")


def test_empty_root_outputs_and_refused_merges_fail_their_tasks(analysis: Basf2Workflow) -> None:
    check_failures(analysis, "--batch", B2CORE_BATCH_SYSTEM="local")


def test_importing_the_tasks_without_basf2_warns_nothing_and_imports_no_basf2() -> None:
    """b2luigi warns at import when basf2 is missing; here the release is looked up only when a task needs it."""
    code = (
        "import sys, warnings; warnings.simplefilter('error', ImportWarning);"
        "import b2core_basf2; from b2core_basf2 import tasks; assert 'basf2' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
