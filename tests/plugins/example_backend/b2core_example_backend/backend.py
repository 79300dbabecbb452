"""The example backend: one exsub per group of jobs, one exstat per poll, one excancel per cancel."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.errors import BatchCommandError, PermanentBatchError
from b2core.settings import get_setting

from b2core_example_backend.settings import ExampleSettings

PERMANENT_EXIT = 2
STATES = {
    "PENDING": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "DONE": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "KILLED": JobState.FAILED,
    "CANCELLED": JobState.FAILED,
}


class ExampleBackend(BatchBackend):
    """Drives the exsub/exstat/excancel commands found on PATH."""

    name = "example"
    settings_model = ExampleSettings

    def job_settings(self, task: Any) -> dict[str, Any]:
        """The queue is per task; tasks with the same queue go out in one exsub."""
        return {"queue": get_setting("example_queue", task=task)}

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Submit all specs of one queue with a single exsub call."""
        jobs = [
            {
                "name": spec.task_id,
                "script": str(spec.wrapper),
                "stdout": str(spec.stdout),
                "stderr": str(spec.stderr),
                "cwd": str(spec.task_file_dir),
                "attempt": spec.attempt,
            }
            for spec in specs
        ]
        result = self._run(["exsub", "--queue", specs[0].settings["queue"]], input=json.dumps(jobs))
        return result.stdout.split()

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Ask for every job in one exstat call."""
        result = self._run(["exstat", *job_ids])
        statuses = {}
        for line in result.stdout.splitlines():
            job_id, native, code = line.split()
            exit_code = None if code == "-" else int(code)
            reason = "killed outside b2core" if native == "KILLED" else ""
            statuses[job_id] = JobStatus(STATES[native], native, exit_code=exit_code, reason=reason)
        return statuses

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Jobs are submitted under their task id, so lost submissions are found by name."""
        if not submissions:
            return {}
        result = self._run(["exstat", "--names", *{task_id for task_id, _ in submissions}])
        wanted = set(submissions)
        found = {}
        for line in result.stdout.splitlines():
            job_id, name, attempt = line.split()
            if (name, int(attempt)) in wanted:
                found[(name, int(attempt))] = job_id
        return found

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancel all given jobs with one excancel call."""
        self._run(["excancel", *job_ids])

    def _run(self, argv: list[str], input: str | None = None) -> Any:
        """Exit code 2 means a mistake no retry fixes; everything else may be transient."""
        try:
            return self.commands.run(argv, input=input)
        except BatchCommandError as error:
            if error.returncode == PERMANENT_EXIT:
                raise PermanentBatchError(error.argv, error.returncode, error.stdout, error.stderr) from None
            raise
