"""Packing (tasks_per_job) on the local backend: the shared scenarios, plus what only the local path shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from packing_scenarios import PackingScenarios, PackingSite


@pytest.fixture
def packing_site(tmp_path: Path):
    """The local backend, polled fast, packs leaving after a short quiet time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
    env.update(B2CORE_POLL_INTERVAL="0.2", B2CORE_SUBMIT_INTERVAL="0.1", B2CORE_PACK_WAIT="0.3", PYTHONUNBUFFERED="1")
    site = PackingSite(tmp_path, "local", env)
    yield site
    site.stop()


class TestLocalPacking(PackingScenarios):
    """The packing scenarios every backend runs, on the local backend."""
