"""A luigi task "process" whose work happens in a batch job; luigi's worker drives it unchanged."""

from __future__ import annotations

import errno
import json
import os
import traceback
from typing import Any

from b2core.batch.backend import JobState
from b2core.batch.engine import NEW_DEPENDENCIES_FILE, BatchEngine, TrackedJob
from b2core.disk_full import full_folder
from b2core.execution import tail_of
from luigi.event import Event
from luigi.scheduler import DONE, FAILED, PENDING
from luigi.task import flatten


class BatchTaskProcess:
    """Submits through the engine on run(), answers is_alive() from the engine's last poll."""

    use_multiprocessing = False
    exitcode = 0

    def __init__(self, task: Any, backend: str, engine: BatchEngine, result_queue: Any, worker_timeout: Any) -> None:
        self.task = task
        self.backend = backend
        self.engine = engine
        self.result_queue = result_queue
        self.worker_timeout = task.worker_timeout if task.worker_timeout is not None else worker_timeout
        self.timeout_time: float | None = None  # set by the worker once it decided the task timed out
        self.job: TrackedJob | None = None
        self.reported = False

    def run(self) -> None:
        """Queue the task for (bulk) submission; returns at once."""
        self.task.trigger_event(Event.START, self.task)
        try:
            self.job = self.engine.start(self.task, self.backend)
        except Exception as error:
            self._report(FAILED, f"Task {self.task.task_id} could not be prepared for {self.backend}: {error}")

    def is_alive(self) -> bool:
        """False once the job ended; the result is then on luigi's result queue."""
        if self.reported:
            return False
        self.engine.tick()
        if self.job is None or self.job.final is None:
            return True
        self._report_final(self.job)
        return False

    def timed_out(self, moment: float) -> bool:
        """Whether the task's worker_timeout, counted from its job's submission, had passed at this moment."""
        submitted = self.job.submitted if self.job is not None else None
        if not self.worker_timeout or submitted is None or self.reported:
            return False
        return moment > submitted + float(self.worker_timeout)

    def terminate(self) -> None:
        """Cancel this task's job (luigi calls this on timeouts) with the other jobs timing out now."""
        if self.job is not None and not self.reported:
            self.engine.cancel_soon(self.job)

    def _report_final(self, job: TrackedJob) -> None:
        status = job.final
        assert status is not None
        if status.state is JobState.SUCCEEDED:
            try:
                self._report_success(job)
            except Exception:  # complete() or output() of this one task broke: fail it, not the run
                problem = f"the job succeeded but checking its outputs raised:\n{traceback.format_exc().rstrip()}"
                self._report(FAILED, self._explain(job, problem))
            return
        self._report(FAILED, self._explain(job))

    def _report_success(self, job: TrackedJob) -> None:
        """New dependencies, or done if every output exists; anything raising here fails this task only."""
        new_deps_file = job.spec.task_file_dir / NEW_DEPENDENCIES_FILE
        if new_deps_file.exists():
            new_deps = [tuple(dep) for dep in json.loads(new_deps_file.read_text())]
            new_deps_file.unlink()
            self._report(PENDING, "", new_deps)
            return
        missing = [t.path for t in flatten(self.task.output()) if hasattr(t, "path") and not t.exists()]
        if not self.task.complete():
            listing = ", ".join(missing) or "complete() is False"
            self._report(FAILED, self._explain(job, f"the job succeeded but the outputs are missing: {listing}"))
            return
        self.task.trigger_event(Event.SUCCESS, self.task)
        self._report(DONE, "")

    def _explain(self, job: TrackedJob, problem: str = "") -> str:
        status = job.final or job.status
        detail = problem or (
            f"job {job.job_id or '(not submitted)'} ended {status.native_state or status.state.value}"
            + (f" with exit code {status.exit_code}" if status.exit_code is not None else "")
            + (f": {status.reason}" if status.reason else "")
        )
        full = full_folder([str(job.spec.stdout), str(job.spec.stderr)])
        if full:
            detail += f"; its log folder {full} is full ({os.strerror(errno.ENOSPC)}), free space in log_dir"
        text = (
            f"Task {self.task.task_id} failed on {self.backend} (attempt {job.spec.attempt}): {detail}\n"
            f"stdout: {job.spec.stdout}\nstderr: {job.spec.stderr}"
        )
        return text + tail_of(job.spec.stderr)

    def _report(self, status: str, explanation: str, new_deps: list[Any] | None = None) -> None:
        if status == FAILED:
            error = RuntimeError(explanation)
            self.task.trigger_event(Event.FAILURE, self.task, error)
        self.reported = True
        self.result_queue.put((self.task.task_id, status, explanation, [], new_deps or []))
