"""Backends that ship with the core: `local` runs each job as a child process through the wrapper;
`test` is the same under its own name, for test suites (never chosen by auto).

Jobs are detached sessions that write their exit code to a file, so a restarted steering process
can still tell how they ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus

EXIT_CODE_FILE = "local_exit_code"


class LocalBackend(BatchBackend):
    """Runs jobs on this machine; the embedded default, needing nothing installed."""

    name = "local"

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Start each job as its own process group; the job id is pid:exit-code-file."""
        ids = []
        for spec in specs:
            exit_file = spec.task_file_dir / EXIT_CODE_FILE
            exit_file.unlink(missing_ok=True)
            script = 'w=$1; o=$2; e=$3; x=$4; "$w" >"$o" 2>"$e"; c=$?; echo $c >"$x.tmp" && mv "$x.tmp" "$x"'
            with open(os.devnull, "rb") as stdin:
                process = subprocess.Popen(
                    [
                        "/bin/sh",
                        "-c",
                        script,
                        "b2core-local-job",
                        spec.wrapper,
                        spec.stdout,
                        spec.stderr,
                        exit_file,
                    ],
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            _children[process.pid] = process
            ids.append(f"{process.pid}:{exit_file}")
        return ids

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Read exit-code files; a process that is gone without one was killed."""
        statuses = {}
        for job_id in job_ids:
            pid_text, _, exit_path = job_id.partition(":")
            pid = int(pid_text)
            child = _children.get(pid)
            if child is not None and child.poll() is not None:
                _children.pop(pid, None)
            # alive first, file second: a job that ends between the two looks running, never killed
            alive = _alive(pid)
            exit_file = Path(exit_path)
            if exit_file.exists():
                code = int(exit_file.read_text().strip() or 1)
                state = JobState.SUCCEEDED if code == 0 else JobState.FAILED
                statuses[job_id] = JobStatus(state, "EXITED", exit_code=code)
            elif alive:
                statuses[job_id] = JobStatus(JobState.RUNNING, "RUNNING")
            else:
                statuses[job_id] = JobStatus(
                    JobState.FAILED, "KILLED", reason="the job's process ended without exit code"
                )
        return statuses

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Terminate each job's whole process group."""
        for job_id in job_ids:
            pid = int(job_id.partition(":")[0])
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)


class TestBackend(LocalBackend):
    """The local backend under the name `test`, as b2luigi offers it."""

    name = "test"


_children: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
