"""The core tests' fixtures (in-process folders, steering scripts run through their command line), reused."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("core_fixtures", Path(__file__).parents[2] / "core" / "conftest.py")
core_fixtures = sys.modules["core_fixtures"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(core_fixtures)

in_process_folders = core_fixtures.in_process_folders
workflow = core_fixtures.workflow
wait = core_fixtures.wait
