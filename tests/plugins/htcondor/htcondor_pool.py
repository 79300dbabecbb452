"""The HTCondor tests' stand-in pool: the shared one from tests/standins with htcondor first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("standin_cluster")  # its shared scenarios assert; show their values on failure
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "standins"))

from standin_cluster import BIN, StandinCluster  # noqa: E402

__all__ = ["BIN", "Condor"]


class Condor(StandinCluster):
    """A private stand-in HTCondor pool for one test."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, ["htcondor"])
