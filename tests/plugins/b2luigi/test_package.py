"""The `b2luigi` package of b2core-b2luigi: b2luigi's names are b2core's, and it refuses to sit beside b2luigi."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import b2core
import b2core.task
import b2core.utils
import b2luigi
import luigi
import pytest


def test_every_public_b2core_name_is_the_same_object_under_b2luigi() -> None:
    for name in set(b2core.__all__) - {"task"}:  # b2core.task is b2core's module, b2luigi.task luigi's
        assert getattr(b2luigi, name) is getattr(b2core, name), name


def test_b2luigi_task_is_luigis_task_module() -> None:
    assert b2luigi.task is luigi.task
    assert b2luigi.task.flatten([[1], [2]]) == [1, 2]


@pytest.mark.parametrize(
    ("module", "name", "implementation"),
    [
        ("b2luigi.cli.process", "process", b2core.process),
        ("b2luigi.core.task", "Task", b2core.Task),
        ("b2luigi.core.task", "ExternalTask", b2core.ExternalTask),
        ("b2luigi.core.task", "WrapperTask", b2core.WrapperTask),
        ("b2luigi.core.target", "LocalTarget", b2core.LocalTarget),
        ("b2luigi.core.settings", "get_setting", b2core.get_setting),
        ("b2luigi.core.settings", "set_setting", b2core.set_setting),
        ("b2luigi.core.settings", "clear_setting", b2core.clear_setting),
        ("b2luigi.core.dispatchable_task", "DispatchableTask", b2core.DispatchableTask),
        ("b2luigi.core.dispatchable_task", "dispatch", b2core.dispatch),
        ("b2luigi.core.temporary_wrapper", "on_temporary_files", b2core.on_temporary_files),
        ("b2luigi.core.task", "NotCompletedTask", b2core.task.NotCompletedTask),
        ("b2luigi.core.parameter", "BatchIntParameter", b2core.BatchIntParameter),
        ("b2luigi.core.parameter", "BoolParameter", b2core.BoolParameter),
        ("b2luigi.core.parameter", "wrap_parameter", b2core.wrap_parameter),
        ("b2luigi", "wrap_parameter", b2core.wrap_parameter),
        *(("b2luigi.core.utils", name, getattr(b2core.utils, name)) for name in b2core.utils.__all__),
    ],
)
def test_b2luigi_module_paths_name_b2cores_objects(module: str, name: str, implementation: object) -> None:
    assert getattr(importlib.import_module(module), name) is implementation


def test_importing_next_to_the_real_b2luigi_stops_with_a_clear_error(tmp_path: Path) -> None:
    # What pip leaves behind for an installed b2luigi: its metadata folder on the path.
    dist_info = tmp_path / "b2luigi-1.2.9.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: b2luigi\nVersion: 1.2.9\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import b2luigi"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ConflictingInstallationError" in result.stderr
    assert "b2luigi 1.2.9 is installed next to b2core-b2luigi" in result.stderr
    assert "pip uninstall b2luigi" in result.stderr


def test_importing_b2luigi_lets_plain_luigi_parameters_take_hashed_and_hidden() -> None:
    """As importing b2luigi did (b2core alone leaves luigi.Parameter untouched: tests/core/test_parameters.py)."""
    parameter = luigi.Parameter(hashed=True, hidden=True)
    assert parameter.hidden and parameter.serialize_hashed("a/b") == b2core.Parameter(hashed=True).serialize_hashed(
        "a/b"
    )
