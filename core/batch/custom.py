"""Batch systems written for b2luigi: a ``BatchProcess`` subclass per job, driven by the core's engine.

A task selects one with ``batch_system = "custom"`` and ``process_class = MyProcess``. The
``custom`` backend creates one process object per job, calls its ``start_job()`` once, asks each
job's ``get_job_status()`` once per poll interval and calls ``terminate_job()`` on Ctrl-C or a
timeout. Such processes keep their job ids only in memory, so a restarted run submits again
instead of re-attaching (as b2luigi does).
"""

from __future__ import annotations

import enum
import itertools
import logging
import os
from collections.abc import Hashable, Sequence
from typing import Any

from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.commands import CommandRunner
from b2core.batch.wrapper import write_wrapper
from b2core.errors import SettingsError

logger = logging.getLogger("b2core.batch")

STATUS_ERRORS_BEFORE_FAILURE = 3
_job_numbers = itertools.count(1)  # with the pid, job ids never repeat across runs


class ProcessStatus(enum.Enum):
    """What ``get_job_status()`` returns (b2luigi's ``JobStatus``); ``idle`` means queued, not yet running."""

    running = "running"
    successful = "successful"
    aborted = "aborted"
    idle = "idle"


_STATES = {
    ProcessStatus.idle: JobState.QUEUED,
    ProcessStatus.running: JobState.RUNNING,
    ProcessStatus.successful: JobState.SUCCEEDED,
    ProcessStatus.aborted: JobState.FAILED,
}


class BatchProcess:
    """Base class of a user-written batch system: subclasses implement start_job, get_job_status, terminate_job.

    Constructed with b2luigi's arguments; ``scheduler`` and ``result_queue`` are None here, because
    the core's engine, not the process, reports results to luigi.
    """

    def __init__(self, task: Any, scheduler: Any = None, result_queue: Any = None, worker_timeout: Any = None) -> None:
        self.task = task
        self._scheduler = scheduler
        self._result_queue = result_queue
        self.worker_timeout = worker_timeout

    def start_job(self) -> None:
        """Submit the job (called exactly once); run create_executable_wrapper(self.task) in it."""
        raise NotImplementedError(f"{type(self).__name__} must implement start_job()")

    def get_job_status(self) -> ProcessStatus:
        """The job's current ProcessStatus; aborted for unknown or failed jobs."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_job_status()")

    def terminate_job(self) -> None:
        """Stop the job without waiting for it to end."""
        raise NotImplementedError(f"{type(self).__name__} must implement terminate_job()")


def create_executable_wrapper(task: Any) -> str:
    """Write the task's executable_wrapper.sh (b2luigi's helper for start_job); its path, as b2luigi returns it."""
    return str(write_wrapper(task))


def process_class_of(task: Any) -> type[BatchProcess]:
    """The task's ``process_class``, checked to be a BatchProcess subclass."""
    cls = getattr(task, "process_class", None)
    if cls is None:
        raise SettingsError(
            f"Task {task.task_id} has batch_system = 'custom' but no process_class; set process_class = MyProcess "
            "(a b2core.batch.custom.BatchProcess subclass) on the task"
        )
    if not (isinstance(cls, type) and issubclass(cls, BatchProcess)):
        raise SettingsError(
            f"process_class of task {task.task_id} is {cls!r}, which is not a BatchProcess subclass "
            "(from b2luigi.batch.processes import BatchProcess, or b2core.batch.custom)"
        )
    return cls


class CustomBackend(BatchBackend):
    """The built-in backend ``custom``: adapts each task's own BatchProcess class to the engine."""

    name = "custom"
    reattachable = False
    packs_tasks = False  # a BatchProcess runs exactly one task

    def __init__(self, commands: CommandRunner | None = None) -> None:
        super().__init__(commands)
        self.processes: dict[str, BatchProcess] = {}
        self.status_errors: dict[str, int] = {}
        self.last: dict[str, JobStatus] = {}

    def job_settings(self, task: Any) -> dict[str, Any]:
        """Check the process class when the task is prepared, so a mistake fails before anything is submitted."""
        process_class_of(task)
        return {}

    def group_key(self, spec: JobSpec) -> Hashable:
        """start_job() submits one job, so every submission holds one spec and is all-or-nothing."""
        return spec.task_id

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Create each task's process and start its job; the id names the task, this run and a counter."""
        ids = []
        for spec in specs:
            process = process_class_of(spec.task)(task=spec.task, worker_timeout=spec.task.worker_timeout)
            process.start_job()
            job_id = f"{spec.task_id}#{os.getpid()}.{next(_job_numbers)}"
            self.processes[job_id] = process
            self.last[job_id] = JobStatus(JobState.QUEUED, "started")
            ids.append(job_id)
        return ids

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Ask every job's process; a status call that keeps raising fails only that job."""
        statuses = {}
        for job_id in job_ids:
            process = self.processes.get(job_id)
            if process is None:
                continue
            status = self._status(job_id, process)
            if status.state.finished:
                self._forget(job_id)
            statuses[job_id] = status
        return statuses

    def _status(self, job_id: str, process: BatchProcess) -> JobStatus:
        name = type(process).__name__
        try:
            answer = process.get_job_status()
        except Exception as error:
            errors = self.status_errors[job_id] = self.status_errors.get(job_id, 0) + 1
            if errors < STATUS_ERRORS_BEFORE_FAILURE:
                logger.warning("%s.get_job_status() of job %s raised, asking again: %r", name, job_id, error)
                return self.last[job_id]
            return JobStatus(JobState.FAILED, "STATUS_ERROR", reason=f"{name}.get_job_status() raised {error!r}")
        self.status_errors.pop(job_id, None)
        state = _STATES.get(answer) if isinstance(answer, ProcessStatus) else None
        if state is None:
            reason = f"{name}.get_job_status() returned {answer!r}, not a JobStatus"
            return JobStatus(JobState.FAILED, "INVALID_STATUS", reason=reason)
        self.last[job_id] = JobStatus(state, answer.value)
        return self.last[job_id]

    def cancel(self, job_ids: Sequence[str]) -> None:
        """terminate_job() of each process; an error is logged, never raised, so the others are still stopped."""
        for job_id in job_ids:
            process = self.processes.get(job_id)
            if process is None:
                continue
            try:
                process.terminate_job()
            except Exception:
                logger.exception("%s.terminate_job() of job %s failed", type(process).__name__, job_id)
            self._forget(job_id)

    def _forget(self, job_id: str) -> None:
        for table in (self.processes, self.status_errors, self.last):
            table.pop(job_id, None)
