"""Fixtures for the batch-system stand-ins (HTCondor, LSF; gbasf2 and apptainer
stand-ins live in their own sub-directories).

``standin_env`` gives every test its own stand-in state directory and a helper::

    def test_something(standin_env):
        standin_env.use("htcondor")            # or "lsf", or any bin directory
        standin_env.run("condor_submit", "job.sub", cwd=tmp_path)
        assert standin_env.count("condor_q") == 0
        standin_env.fail_next("condor_q", 2)   # next two condor_q calls fail
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

STANDINS = Path(__file__).resolve().parent
BIN_DIRS = {
    "htcondor": STANDINS / "htcondor" / "bin",
    "lsf": STANDINS / "lsf" / "bin",
}
RECORDED = STANDINS / "recorded"

if str(STANDINS) not in sys.path:
    sys.path.insert(0, str(STANDINS))

import standin_queue  # noqa: E402


class StandinEnv:
    """Helper returned by the ``standin_env`` fixture."""

    def __init__(self, state_dir: Path, monkeypatch: pytest.MonkeyPatch):
        self.state_dir = state_dir
        self._monkeypatch = monkeypatch

    def use(self, bin_dir: str | os.PathLike) -> Path:
        """Prepend a stand-in bin directory ("htcondor", "lsf" or a path) to PATH.

        A directory holding a ``python3`` that execs the test's interpreter
        (``sys.executable``, e.g. the project venv) is put in front as well: the
        stand-ins start with ``#!/usr/bin/env python3`` and a version-manager shim
        (pyenv) would add ~0.5 s to every call.  Jobs that inherit PATH therefore also
        get the test's interpreter as ``python3``."""
        path = BIN_DIRS.get(str(bin_dir), Path(bin_dir))
        python_dir = self.state_dir.parent / "standin-python"
        if not python_dir.exists():
            python_dir.mkdir()
            wrapper = python_dir / "python3"
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            wrapper.chmod(0o755)
        self._monkeypatch.setenv("PATH", f"{python_dir}{os.pathsep}{path}{os.pathsep}{os.environ.get('PATH', '')}")
        return path

    def setenv(self, name: str, value: str) -> None:
        self._monkeypatch.setenv(name, value)

    def calls(self, tool: str | None = None) -> list[dict]:
        """Parsed ``calls.jsonl``: one dict (tool, argv, time, pid) per invocation."""
        calls = standin_queue.read_calls(self.state_dir)
        return [c for c in calls if tool is None or c["tool"] == tool]

    def count(self, tool: str) -> int:
        return len(self.calls(tool))

    def fail_next(self, tool: str, count: int = 1) -> None:
        """Make the next ``count`` invocations of ``tool`` fail like an unreachable daemon."""
        standin_queue.set_fail_next(tool, count, self.state_dir)

    def queue(self, system: str) -> dict:
        path = self.state_dir / system / "queue.json"
        return json.loads(path.read_text()) if path.exists() else {"jobs": {}}

    def run(self, *argv, cwd=None, input=None, check=False, timeout=30) -> subprocess.CompletedProcess:
        """Run a command with the current (monkeypatched) environment; text mode."""
        return subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            env=dict(os.environ),
        )

    @staticmethod
    def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(interval)

    def kill_all(self) -> None:
        """Kill the jobs still running and cancel the pending ones (fixture teardown)."""
        standin_queue.abandon_all(self.state_dir)


@pytest.fixture
def standin_env(tmp_path, monkeypatch) -> StandinEnv:
    state = tmp_path / "standin-state"
    state.mkdir()
    monkeypatch.setenv(standin_queue.STATE_ENV, str(state))
    for var in (
        standin_queue.FAIL_ENV,
        "B2CORE_STANDIN_START_DELAY",
        "B2CORE_STANDIN_LSF_CLEAN_PERIOD",
        "B2CORE_STANDIN_LSF_NO_REPORT",
        "B2CORE_STANDIN_LSF_DEFAULT_QUEUE",
        "LSB_DEFAULTQUEUE",
    ):
        monkeypatch.delenv(var, raising=False)
    env = StandinEnv(state, monkeypatch)
    yield env
    env.kill_all()
