"""Helpers for the Slurm tests: run a steering script as a user would, read the job store and sacct.

A module with its own name (not conftest) so `from slurm_testkit import ...` is unambiguous when
several test folders have a conftest.py.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

RECORDED = Path(__file__).parent / "recorded"
SHIMMED = ("sbatch", "squeue", "sacct", "scancel", "scontrol")


@dataclass
class Workflow:
    """A steering script in its own folder, with a unique Slurm job name and a command log."""

    folder: Path
    job_name: str

    @property
    def script(self) -> Path:
        """The steering script's path."""
        return self.folder / "steering.py"

    @property
    def calls_log(self) -> Path:
        """Every Slurm command the steering process ran, one line each (written by the shims)."""
        return self.folder / "slurm-calls.log"

    def write(self, source: str) -> Path:
        """Write the steering script; {job_name} in the source is replaced by this run's job name."""
        self.script.write_text(textwrap.dedent(source).replace("{job_name}", self.job_name))
        return self.script

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of the steering process: fast polling, the command shims first on PATH."""
        keep = ("B2CORE_REQUIRE_CLUSTERS",)
        env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_") or k in keep}
        env.update(
            {
                "B2CORE_POLL_INTERVAL": "1",
                "B2CORE_SUBMIT_INTERVAL": "0.5",
                "PATH": f"{self._shims()}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def start(self, *args: str, log: str = "steering.log", **extra_env: str) -> subprocess.Popen[str]:
        """Start the steering script with the real command line in the background; output goes to log."""
        with open(self.folder / log, "w") as output:
            return subprocess.Popen(
                [sys.executable, str(self.script), *args],
                cwd=self.folder,
                env=self.env(**extra_env),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def output(self, log: str = "steering.log") -> str:
        """What a background run (start) printed so far."""
        return (self.folder / log).read_text()

    def run(self, *args: str, timeout: float = 180, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run the steering script to its end; returns exit code and the combined output."""
        return subprocess.run(
            [sys.executable, str(self.script), *args],
            cwd=self.folder,
            env=self.env(**extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )

    def calls(self, command: str) -> int:
        """How often the steering process ran one Slurm command."""
        if not self.calls_log.exists():
            return 0
        return sum(1 for line in self.calls_log.read_text().splitlines() if line.split(" ", 1)[0] == command)

    def jobs(self) -> list[dict[str, object]]:
        """Every row of the workflow's job store (logs/.b2core/jobs.sqlite); [] while it is being created."""
        path = self.folder / "logs" / ".b2core" / "jobs.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(str(path), timeout=30)
        try:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY task_id, attempt")]
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []  # the steering process has created the file but not yet its schema
            raise
        finally:
            db.close()

    def _shims(self) -> Path:
        folder = self.folder / "shims"
        if not folder.exists():
            folder.mkdir()
            for command in SHIMMED:
                real = _which_outside(command, folder)
                shim = folder / command
                shim.write_text(
                    f'#!/bin/sh\necho "{command} $*" >> {str(self.calls_log)!r}\n'
                    + (KILL_SUBMITTER.format(real=real) if command == "sbatch" else "")
                    + f'exec {real!r} "$@"\n'
                )
                shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        return folder


#: with B2CORE_TEST_KILL_SUBMITTER naming an existing file (removed on use), sbatch submits, answers and then
#: kills its caller: a steering process dying between the submission and the bookkeeping of its job ids
KILL_SUBMITTER = """if [ -n "$B2CORE_TEST_KILL_SUBMITTER" ] && rm "$B2CORE_TEST_KILL_SUBMITTER" 2>/dev/null; then
    '{real}' "$@"
    kill -9 "$PPID"
    exit 0
fi
"""


def _which_outside(command: str, skip: Path) -> str:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / command
        if folder and Path(folder) != skip and os.access(candidate, os.X_OK):
            return str(candidate)
    return command


def new_workflow(folder: Path) -> Workflow:
    """A workflow in folder with a job name no other test run uses."""
    return Workflow(folder, f"b2t-{uuid.uuid4().hex[:10]}")


def sacct(*job_ids: str, name: str | None = None, expect: int | None = None) -> list[dict[str, str]]:
    """Accounting records (allocations only) of job ids or of a job name from the last day.

    With `expect`, waits up to 20 s for that many records: slurmdbd lags a moment behind slurmctld,
    and a fresh record's JobName may still read "allocation".
    """
    argv = ["sacct", "-X", "-n", "-P", "-o", "JobID,JobName,State,ExitCode"]
    argv += ["-j", ",".join(job_ids)] if job_ids else ["--name", str(name), "-S", "now-1days"]
    deadline = time.monotonic() + 20
    while True:
        output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        rows = []
        for line in output.splitlines():
            if line.strip():
                job_id, job_name, state, exit_code = line.split("|")
                rows.append({"JobID": job_id, "JobName": job_name, "State": state, "ExitCode": exit_code})
        settled = all(r["JobName"] != "allocation" and r["State"] not in ("PENDING", "RUNNING") for r in rows)
        if expect is None or (len(rows) >= expect and settled) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll condition() until it returns something truthy; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def squeue_state(job_id: str) -> str:
    """The state squeue shows for one job (or array element), '' when it does not show it."""
    result = subprocess.run(
        ["squeue", "--noheader", "-r", "-t", "all", "--format=%i|%T", "-j", job_id.split("_")[0]],
        capture_output=True,
        text=True,
    )
    for line in result.stdout.splitlines():
        shown, _, state = line.partition("|")
        if shown == job_id:
            return state
    return ""
