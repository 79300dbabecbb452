"""Fixtures for the HTCondor plugin tests: the stand-in condor_* commands on PATH, steering scripts in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from htcondor_pool import BIN, Condor


@pytest.fixture
def condor(tmp_path: Path) -> Iterator[Condor]:
    """A stand-in HTCondor pool private to the test."""
    if not (BIN["htcondor"] / "condor_submit").exists():
        pytest.skip("the HTCondor stand-ins (tests/standins/htcondor/bin) are not there")
    pool = Condor(tmp_path)
    yield pool
    pool.cleanup()
