"""b2luigi.basf2_helper: b2core-basf2's classes under b2luigi's module paths, and a clear error without the plugin."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import b2core_basf2
import pytest

STANDIN = Path(__file__).resolve().parents[2] / "standins" / "basf2"
if str(STANDIN) not in sys.path:
    sys.path.insert(0, str(STANDIN))

from workflow import B2LUIGI_IMPORTS, Basf2Workflow, check_analysis  # noqa: E402

TASKS = [
    "Basf2Task",
    "Basf2PathTask",
    "SimplifiedOutputBasf2Task",
    "MergerTask",
    "HaddTask",
    "Basf2FileMergeTask",
    "Basf2nTupleMergeTask",
]
NAMES = [("b2luigi.basf2_helper.tasks", name) for name in TASKS] + [
    ("b2luigi.basf2_helper", "Basf2PathTask"),
    ("b2luigi.basf2_helper.targets", "ROOTLocalTarget"),
    ("b2luigi.basf2_helper.utils", "get_basf2_git_hash"),
]


@pytest.mark.parametrize(("module", "name"), NAMES)
def test_basf2_helper_names_are_b2core_basf2s(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(b2core_basf2, name)


@pytest.mark.parametrize("module", ["b2luigi.basf2_helper", "b2luigi.basf2_helper.tasks"])
def test_without_b2core_basf2_the_import_names_the_pip_command(module: str) -> None:
    code = f"import sys; sys.modules['b2core_basf2'] = None; import {module}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "MissingPluginError" in result.stderr and "pip install b2core-basf2" in result.stderr, result.stderr


def test_a_b2luigi_basf2_analysis_runs_unchanged_in_batch_jobs(tmp_path: Path) -> None:
    folder = tmp_path / "analysis"
    folder.mkdir()
    check_analysis(Basf2Workflow(folder, B2LUIGI_IMPORTS), "--batch", B2CORE_BATCH_SYSTEM="local")


def test_custom_batch_process_names() -> None:
    from b2core.batch.custom import BatchProcess, ProcessStatus, create_executable_wrapper
    from b2luigi.batch import processes
    from b2luigi.core import executable

    assert (processes.BatchProcess, processes.JobStatus) == (BatchProcess, ProcessStatus)
    assert [status.value for status in processes.JobStatus] == ["running", "successful", "aborted", "idle"]
    assert executable.create_executable_wrapper is create_executable_wrapper
