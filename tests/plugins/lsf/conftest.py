"""Fixtures for the LSF plugin tests: the stand-in bsub/bjobs/bkill on PATH, steering scripts in tmp_path."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from b2core_lsf.backend import parse_bjobs, parse_bsub
from lsf_cluster import BIN, StandinCluster


@cache
def standin_runs_job_arrays() -> bool:
    """Whether the LSF stand-in implements job arrays (`bsub -J "name[1-N]"`, LSB_JOBINDEX), as LSF does."""
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, B2CORE_STANDIN_DIR=state, PATH=f"{BIN['lsf']}{os.pathsep}{os.environ['PATH']}")

        def run(*argv: str) -> str:
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30).stdout

        job_id = parse_bsub(run("bsub", "-J", "probe[1-2]", "-oo", "/dev/null", "true"))
        statuses: dict = {}
        for _ in range(50):
            statuses = parse_bjobs(run("bjobs", "-a", "-json", "-o", "jobid jobindex stat", str(job_id))) or {}
            if statuses and all(status.state.finished for status in statuses.values()):
                break
            time.sleep(0.1)
        return set(statuses) == {f"{job_id}[1]", f"{job_id}[2]"}


@pytest.fixture
def lsf(tmp_path: Path) -> Iterator[StandinCluster]:
    """A stand-in LSF cluster private to the test (skipped, or failed in CI, while the stand-in lacks arrays)."""
    if not (BIN["lsf"] / "bsub").exists():
        pytest.skip("the LSF stand-ins (tests/standins/lsf/bin) are not there")
    if not standin_runs_job_arrays():
        reason = 'the LSF stand-in does not implement job arrays (bsub -J "name[1-N]", LSB_JOBINDEX, bjobs JOBINDEX)'
        if os.environ.get("B2CORE_REQUIRE_CLUSTERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = StandinCluster(tmp_path)
    yield cluster
    cluster.cleanup()
