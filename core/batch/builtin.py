"""Backends that ship with the core: `local` runs each job as a child process through the wrapper;
`test` is the same under its own name, for test suites (never chosen by auto).

Jobs are detached sessions, so they outlive a killed steering process and a restart re-attaches. Each
submission gets its own folder, <log_dir>/.b2core/local-jobs/<task>/<attempt>-<token>/, where the job
writes its pid first and its exit code last: a restart finds submissions a crash left unrecorded, never
reads an older attempt's exit code, and never mistakes a process that reused the pid for the job (the job
id holds the pid's start time).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.paths import map_folder, workflow_state_dir
from b2core.processes import is_running, process_start_time
from b2core.settings import get_setting

logger = logging.getLogger("b2core.batch")
JOBS_DIR = "local-jobs"
PID_FILE = "pid"
EXIT_CODE_FILE = "exit_code"
# the job's shell records its pid and start time before anything else, its exit code atomically at the end
JOB_SCRIPT = (
    "d=$1; w=$2; o=$3; e=$4; read -r s </proc/$$/stat; set -- $s; "
    'echo "$$ ${22}" >"$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"; '
    '"$w" >"$o" 2>"$e"; c=$?; echo $c >"$d/exit_code.tmp" && mv "$d/exit_code.tmp" "$d/exit_code"'
)


class LocalBackend(BatchBackend):
    """Runs jobs on this machine; the embedded default, needing nothing installed."""

    name = "local"

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Start each job as its own session; a task whose earlier job still runs here is adopted, not started again."""
        return [self._running_job(spec.task_id) or self._start(spec) for spec in specs]

    def _start(self, spec: JobSpec) -> str:
        task_folder = _task_folder(spec.task_id)
        _forget_ended_jobs(task_folder)
        folder = task_folder / f"{spec.attempt}-{secrets.token_hex(4)}"
        folder.mkdir(parents=True)
        (task_folder / "task_id").write_text(spec.task_id)
        argv = ["/bin/sh", "-c", JOB_SCRIPT, "b2core-local-job", str(folder), str(spec.wrapper)]
        with open(os.devnull, "rb") as stdin:
            process = subprocess.Popen(
                [*argv, str(spec.stdout), str(spec.stderr)],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        _children[process.pid] = process
        return _job_id(process.pid, process_start_time(process.pid), folder)

    def _running_job(self, task_id: str) -> str | None:
        """The id of a job of this task that an earlier run started and that still runs, if any."""
        for folder in _submissions(_task_folder(task_id)):
            job_id = _recorded_job(folder)
            if job_id and self.query([job_id])[job_id].state is JobState.RUNNING:
                logger.warning("Task %s still runs as local job %s of an earlier run; re-attaching", task_id, job_id)
                return job_id
        return None

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Read exit-code files; a process that is gone without one was killed (or lost in a reboot)."""
        statuses = {}
        for job_id in job_ids:
            pid, started, folder = _parse(job_id)
            child = _children.get(pid)
            if child is not None and child.poll() is not None:
                _children.pop(pid, None)
            # alive first, file second: a job that ends between the two looks running, never killed
            alive = is_running(pid, started)
            code = _exit_code(folder)
            if code is not None:
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
        """Terminate each job's whole process group (only if the pid is still the job's)."""
        for job_id in job_ids:
            pid, started, _ = _parse(job_id)
            if is_running(pid, started):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """Jobs whose submission a crash left unrecorded: the job wrote its pid into its submission folder."""
        found = {}
        for task_id, attempt in submissions:
            for folder in _submissions(_task_folder(task_id)):
                job_id = _recorded_job(folder)
                if folder.name.split("-")[0] == str(attempt) and job_id:
                    found[(task_id, attempt)] = job_id
        return found


class TestBackend(LocalBackend):
    """The local backend under the name `test`, as b2luigi offers it."""

    name = "test"


_children: dict[int, subprocess.Popen[bytes]] = {}


def _task_folder(task_id: str) -> Path:
    """One folder per task below the workflow's state folder; task ids can be longer than a file name."""
    digest = hashlib.sha256(task_id.encode()).hexdigest()[:24]
    return workflow_state_dir(map_folder(get_setting("log_dir"))) / JOBS_DIR / digest


def _submissions(task_folder: Path) -> list[Path]:
    try:
        return sorted(p for p in task_folder.iterdir() if p.is_dir())
    except OSError:
        return []


def _job_id(pid: int, started: int | None, folder: Path) -> str:
    return f"{pid}:{started or 0}:{folder}"


def _parse(job_id: str) -> tuple[int, int, Path]:
    """(pid, start time, submission folder) of a job id; a malformed id is an error naming it."""
    parts = job_id.split(":", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or not parts[2]:
        raise ValueError(f"{job_id!r} is not a local job id (pid:start-time:folder)")
    return int(parts[0]), int(parts[1]), Path(parts[2])


def _recorded_job(folder: Path) -> str | None:
    """The id of the job that started in a submission folder, from the pid and start time it wrote."""
    try:
        pid, started = (int(word) for word in (folder / PID_FILE).read_text().split())
    except (OSError, ValueError):
        return None
    return _job_id(pid, started, folder)


def _exit_code(folder: Path) -> int | None:
    try:
        text = (folder / EXIT_CODE_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else 1


def _forget_ended_jobs(task_folder: Path) -> None:
    """Drop submission folders whose job has ended; their outcome is in the job store already."""
    for folder in _submissions(task_folder):
        job_id = _recorded_job(folder)
        if job_id is None or _exit_code(folder) is not None or not is_running(*_parse(job_id)[:2]):
            shutil.rmtree(folder, ignore_errors=True)
