"""The stand-in basf2 tools and the shared analysis workflow (tests/standins/basf2/workflow.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

STANDIN = Path(__file__).resolve().parents[2] / "standins" / "basf2"
if str(STANDIN) not in sys.path:
    sys.path.insert(0, str(STANDIN))

from workflow import B2CORE_IMPORTS, Basf2Workflow  # noqa: E402


@pytest.fixture
def analysis(tmp_path: Path) -> Basf2Workflow:
    """The analysis steering script, written with b2core's names, in a fresh folder."""
    folder = tmp_path / "analysis"
    folder.mkdir()
    return Basf2Workflow(folder, B2CORE_IMPORTS)
