"""The batch engine: gathers runnable tasks into bulk submissions, polls each backend once per
interval for all its jobs, resubmits failures, re-attaches after restarts and cancels in bulk.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import tenacity
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.commands import CommandRunner
from b2core.batch.containment import cancel_each, is_lost_unobserved, query_each
from b2core.batch.jobstore import ACTIVE_STATES, JobRecord, JobStore, now
from b2core.batch.packing import PackFilling, PackingBackend, pack_size, task_wrapper
from b2core.batch.wrapper import log_paths
from b2core.disk_full import is_disk_full
from b2core.errors import BatchCommandError, PartialSubmissionError, PermanentBatchError, WorkflowStateError
from b2core.paths import task_file_dir
from b2core.plugins import backend_class, plugin_manager
from b2core.settings import get_setting

logger = logging.getLogger("b2core.batch")
T = TypeVar("T")

UNKNOWN_POLLS_BEFORE_FAILURE = 3
#: in the record of a re-attached job found gone without an exit code (no failure of the task itself)
LOST_UNWATCHED = "ended while no steering process watched, without an exit code"
NEW_DEPENDENCIES_FILE = "new_dependencies.json"


@dataclass(eq=False)
class TrackedJob:
    """One task's current job in this run."""

    task: Any
    backend: str
    spec: JobSpec
    job_id: str | None = None
    status: JobStatus = field(default_factory=lambda: JobStatus(JobState.QUEUED, "pending submission"))
    final: JobStatus | None = None
    unknown_polls: int = 0
    reattached: bool = False
    submitted: float | None = None
    finished: float | None = None

    @property
    def record(self) -> JobRecord:
        """This job as a row of the job store."""
        return JobRecord(
            task_id=self.spec.task_id,
            attempt=self.spec.attempt,
            family=self.spec.family,
            backend=self.backend,
            job_id=self.job_id,
            state=self.status.state.value if self.job_id or self.status.state.finished else "submitting",
            native_state=self.status.native_state,
            exit_code=self.status.exit_code,
            reason=self.status.reason,
            stdout=str(self.spec.stdout),
            stderr=str(self.spec.stderr),
            submitted=self.submitted,
            finished=self.finished,
        )


class BatchEngine:
    """Shared by every task process of a run; all batch system traffic goes through it."""

    def __init__(self, store: JobStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self.hooks = plugin_manager().hook
        self.backends: dict[str, BatchBackend] = {}
        self.pending: dict[str, list[TrackedJob]] = defaultdict(list)
        self.pending_since: dict[str, float] = {}
        self.active: dict[str, dict[str, TrackedJob]] = defaultdict(dict)
        self.last_poll: dict[str, float] = {}
        self.failed_polls: dict[str, int] = defaultdict(int)
        self.lost_submissions: dict[str, dict[tuple[str, int], str] | None] = {}
        self._dirty: list[TrackedJob] = []
        self._store_unwritable = False  # the last write of job records failed (said once)
        self._to_cancel: list[TrackedJob] = []
        self._next_due = 0.0  # luigi asks every running task; only the first ask per due time does work
        self.packs = PackFilling(clock)
        self.ended: list[TrackedJob] = []  # jobs that reached their final status, until the worker looks

    # --- starting jobs -----------------------------------------------------------------------------

    def backend(self, name: str) -> BatchBackend:
        """The run's instance of a backend, created on first use."""
        if name not in self.backends:
            self.backends[name] = PackingBackend(backend_class(name)(CommandRunner()))
        return self.backends[name]

    def start(self, task: Any, backend_name: str) -> TrackedJob:
        """Queue a task for submission, or re-attach to its job if an earlier run left one active."""
        backend = self.backend(backend_name)
        previous = self.store.latest(task.task_id)
        if previous and previous.state == "submitting" and previous.backend == backend_name:
            previous.job_id = self._lost_submission(backend, previous)
        if previous and previous.state in ACTIVE_STATES and previous.job_id and previous.backend == backend_name:
            if backend.reattachable:
                return self._reattach(task, backend, previous)
            logger.warning(
                "An earlier run left job %s of task %s on %s, which cannot re-attach to it; submitting again "
                "(check for a duplicate job)",
                previous.job_id,
                task.task_id,
                backend_name,
            )
        attempt = previous.attempt + 1 if previous else 1
        job = TrackedJob(task, backend_name, self._spec(task, backend, attempt))
        self._queue(job)
        return job

    def _lost_submission(self, backend: BatchBackend, record: JobRecord) -> str | None:
        """The job of a submission whose answer an earlier run did not live to record, if it exists."""
        if backend.name not in self.lost_submissions:
            unanswered = [(r.task_id, r.attempt) for r in self.store.in_state("submitting", backend.name)]
            try:
                self.lost_submissions[backend.name] = self._with_retries(
                    f"looking up lost submissions on {backend.name}", backend.find, unanswered
                )
            except BatchCommandError as error:
                logger.warning("Could not look up submissions lost on %s: %s", backend.name, error)
                self.lost_submissions[backend.name] = None
        found = self.lost_submissions[backend.name]
        if found is None:
            logger.warning(
                "An earlier run stopped while submitting task %s to %s, which cannot say whether the job exists; "
                "submitting it again (check for a duplicate job)",
                record.task_id,
                backend.name,
            )
            return None
        return found.get((record.task_id, record.attempt))

    def _spec(self, task: Any, backend: BatchBackend, attempt: int) -> JobSpec:
        stdout, stderr = log_paths(task, create=pack_size(backend, task) == 1)  # a pack's job makes its own
        folder = Path(task_file_dir(task))
        (folder / NEW_DEPENDENCIES_FILE).unlink(missing_ok=True)
        return JobSpec(
            task_id=task.task_id,
            family=task.get_task_family(),
            wrapper=task_wrapper(backend, task),
            stdout=stdout,
            stderr=stderr,
            log_dir=stdout.parent,
            task_file_dir=folder,
            job_name=get_setting("job_name", task=task),
            attempt=attempt,
            settings=backend.job_settings(task),
            task=task,
        )

    def _reattach(self, task: Any, backend: BatchBackend, record: JobRecord) -> TrackedJob:
        spec = self._spec(task, backend, record.attempt)
        state = JobState.RUNNING if record.state == "running" else JobState.QUEUED
        job = TrackedJob(task, backend.name, spec, job_id=record.job_id, reattached=True, submitted=record.submitted)
        job.status = JobStatus(state, record.native_state or "re-attached")
        self.active[backend.name][record.job_id] = job
        self._next_due = 0.0
        logger.info("Re-attached to %s job %s of task %s", backend.name, record.job_id, task.task_id)
        self.hooks.b2core_job_submitted(
            task_id=task.task_id, backend=backend.name, job_id=record.job_id, attempt=record.attempt
        )
        return job

    def _queue(self, job: TrackedJob) -> None:
        if not self.pending[job.backend]:
            self.pending_since[job.backend] = self.clock()
        self.pending[job.backend].append(job)
        self.packs.queued(self.backend(job.backend), job.spec)
        self._next_due = 0.0

    # --- the tick: submit what is due, poll what is due ---------------------------------------------

    def tick(self) -> None:
        """Do whatever submission or polling is due; cheap when nothing is."""
        current = self.clock()
        if current < self._next_due:
            return
        submit_interval, poll_interval = get_setting("submit_interval"), get_setting("poll_interval")
        for name, jobs in self.pending.items():
            if jobs and (self.packs.full(name, len(jobs)) or current - self.pending_since[name] >= submit_interval):
                self._submit(name)
        for name, jobs in self.active.items():
            if jobs and current - self.last_poll.get(name, 0.0) >= poll_interval:
                self._poll(name)
        self._flush_records()
        due = [self.pending_since[name] + submit_interval for name, jobs in self.pending.items() if jobs]
        due += [self.last_poll.get(name, 0.0) + poll_interval for name, jobs in self.active.items() if jobs]
        self._next_due = min(due, default=0.0)

    def flush_submissions(self) -> None:
        """Submit everything pending now (used before waiting and in tests)."""
        for name in list(self.pending):
            if self.pending[name]:
                self._submit(name, everything=True)
        self._flush_records()

    def _submit(self, name: str, everything: bool = False) -> None:
        backend = self.backend(name)
        jobs, self.pending[name] = self.packs.leaving(backend, self.pending[name], everything)
        if self.pending[name]:
            self.pending_since[name] = self.clock()  # packs still filling: look again after submit_interval
        groups: dict[Any, list[TrackedJob]] = defaultdict(list)
        for job in jobs:
            groups[backend.group_key(job.spec)].append(job)
        for group in groups.values():
            size = get_setting("max_array_size") * pack_size(backend, group[0].task)
            for start in range(0, len(group), size):
                self._submit_chunk(backend, group[start : start + size])

    def _submit_chunk(self, backend: BatchBackend, jobs: list[TrackedJob]) -> None:
        self._dirty += jobs  # recorded as submitting first, so a restart can look for a lost submission
        self._flush_records()
        remaining = list(jobs)

        def submit_remaining(specs: Sequence[JobSpec]) -> None:
            """One submit call for the jobs still without id; a partial failure keeps the jobs it got out."""
            nonlocal remaining
            try:
                ids = backend.submit([job.spec for job in remaining])
            except PartialSubmissionError as partial:
                done, remaining = remaining[: len(partial.submitted_ids)], remaining[len(partial.submitted_ids) :]
                self._submitted(backend, done, partial.submitted_ids)
                raise partial.cause from None
            if len(ids) != len(remaining):
                raise RuntimeError(f"{backend.name} returned {len(ids)} job ids for {len(remaining)} jobs: {ids}")
            self._submitted(backend, remaining, ids)
            remaining = []

        try:
            self._with_retries(f"submitting to {backend.name}", submit_remaining, [job.spec for job in jobs])
        except Exception as error:
            if not isinstance(error, BatchCommandError) and not is_disk_full(error):  # a bug: show where
                logger.exception("Submitting %d job(s) to %s failed", len(remaining), backend.name)
            for job in remaining:
                self._finish(job, JobStatus(JobState.FAILED, "SUBMISSION_FAILED", reason=str(error)), retry=False)

    def _submitted(self, backend: BatchBackend, jobs: list[TrackedJob], ids: Sequence[str]) -> None:
        """Track jobs that got an id; the ids are recorded at once, as a restart re-attaches to them."""
        if not jobs:
            return
        submitted = now()
        for job, job_id in zip(jobs, ids, strict=True):
            job.job_id, job.submitted = job_id, submitted
            job.status = JobStatus(JobState.QUEUED, "submitted")
            self.active[backend.name][job_id] = job
            self._dirty.append(job)
            self.hooks.b2core_job_submitted(
                task_id=job.spec.task_id, backend=backend.name, job_id=job_id, attempt=job.spec.attempt
            )
        self._flush_records()  # the ids are what a restart re-attaches to: write them at once
        logger.info("Submitted %d job(s) to %s", len(jobs), backend.name)

    def _poll(self, name: str) -> None:
        backend = self.backend(name)
        self.last_poll[name] = self.clock()
        jobs = self.active[name]
        broken: dict[str, str] = {}
        try:
            statuses = self._with_retries(f"querying {name}", backend.query, list(jobs))
        except BatchCommandError as error:
            self._poll_failed(name, error)
            return
        except Exception as error:  # a bug or a malformed record: find the culprits, keep the rest
            try:
                statuses, broken = query_each(backend, list(jobs), error)
            except BatchCommandError as command_error:
                self._poll_failed(name, command_error)
                return
            if len(broken) == len(jobs):  # not one bad record: the query itself is broken
                self._poll_failed(name, error)
                return
        self.failed_polls[name] = 0
        for job_id, problem in broken.items():
            self.cancel([jobs[job_id]], reason=f"the status query of job {job_id!r} fails: {problem}")
        for job_id, job in list(jobs.items()):
            status = statuses.get(job_id)
            if status is None:
                job.unknown_polls += 1
                if job.unknown_polls >= UNKNOWN_POLLS_BEFORE_FAILURE:
                    reason = f"job {job_id} is unknown to {name}: neither queued nor in its history"
                    self._finish(job, JobStatus(JobState.FAILED, "UNKNOWN", reason=reason))
                continue
            job.unknown_polls = 0
            if is_lost_unobserved(job, status):
                reason = "; ".join(filter(None, [status.reason, LOST_UNWATCHED]))
                self._finish(job, replace(status, reason=reason), lost=True)
                continue
            job.reattached = False  # observed from now on
            if status != job.status:
                job.status = status
                self._dirty.append(job)
                self.hooks.b2core_job_status_changed(
                    task_id=job.spec.task_id, backend=name, job_id=job_id, status=status
                )
            if status.state.finished:
                self._finish(job, status)

    def _poll_failed(self, name: str, error: Exception) -> None:
        """Jobs keep running while their batch system does not answer, so keep waiting for them; only a
        query that can never work (a permanent error or a bug) gives up, cancelling the jobs so that a
        later run cannot duplicate them."""
        self.failed_polls[name] += 1
        transient = isinstance(error, BatchCommandError) and not isinstance(error, PermanentBatchError)
        if transient or self.failed_polls[name] < UNKNOWN_POLLS_BEFORE_FAILURE:
            logger.warning(
                "%s did not answer the status query (%d time(s) in a row); jobs stay tracked: %s",
                name,
                self.failed_polls[name],
                error,
                exc_info=not isinstance(error, BatchCommandError),
            )
            return
        reason = f"the status of {name} jobs cannot be queried: {error}"
        logger.error("%s; cancelling its %d job(s)", reason, len(self.active[name]))
        self.cancel(list(self.active[name].values()), reason=reason)

    def _finish(self, job: TrackedJob, status: JobStatus, retry: bool = True, lost: bool = False) -> None:
        if job.job_id is not None:
            self.active[job.backend].pop(job.job_id, None)
        job.status, job.finished = status, now()
        self._dirty.append(job)
        failed = retry and status.state is JobState.FAILED
        allowed = self._allowed_attempts(job, lost) if failed else 0  # a store query only for failures
        will_retry = failed and job.spec.attempt <= allowed
        if lost:
            logger.warning(
                "Job %s of task %s ended unwatched, without an exit code; %s",
                job.job_id,
                job.spec.task_id,
                "submitting again" if will_retry else f"not again: {job.spec.attempt} attempt(s) are used up",
            )
        self.hooks.b2core_job_finished(
            task_id=job.spec.task_id,
            backend=job.backend,
            job_id=job.job_id or "",
            status=status,
            will_retry=will_retry,
        )
        if not will_retry:
            job.final = status
            self.ended.append(job)
            return
        logger.warning(
            "Job %s of task %s failed (%s); submitting attempt %d of %d",
            job.job_id,
            job.spec.task_id,
            status.native_state,
            job.spec.attempt + 1,
            allowed + 1,
        )
        self._flush_records()
        _keep_attempt_logs(job.spec)
        job.spec = self._spec(job.task, self.backend(job.backend), job.spec.attempt + 1)
        job.job_id, job.unknown_polls, job.submitted, job.finished = None, 0, None, None
        job.status = JobStatus(JobState.QUEUED, "pending resubmission")
        self._queue(job)

    def _allowed_attempts(self, job: TrackedJob, lost: bool) -> int:
        """The last attempt that may still be followed by another: max_resubmissions failures, plus one for
        each attempt lost unwatched (no failure of the task), but at most max_resubmissions + 1 of those, so
        a job that gets lost again and again is not submitted for ever."""
        limit = get_setting("max_resubmissions", task=job.task)
        earlier = self.store.history(job.spec.task_id)
        lost_count = int(lost) + sum(
            1 for record in earlier if record.attempt < job.spec.attempt and LOST_UNWATCHED in record.reason
        )
        return limit + min(lost_count, limit + 1)

    def _flush_records(self) -> None:
        """Write changed job records; while the store cannot be written (a full log_dir), keep them for later."""
        if not self._dirty:
            return
        try:
            self.store.upsert_many([job.record for job in dict.fromkeys(self._dirty)])
        except WorkflowStateError as error:
            if not self._store_unwritable:
                logger.error(
                    "%s The run goes on and writes its job records once it can; a steering process killed "
                    "meanwhile cannot re-attach to the jobs submitted since.",
                    error,
                )
            self._store_unwritable = True
            return
        if self._store_unwritable:
            logger.warning("The job store %s can be written again; its job records are up to date", self.store.path)
            self._store_unwritable = False
        self._dirty = []

    def _with_retries(self, what: str, call: Callable[[Sequence[Any]], T], argument: Sequence[Any]) -> T:
        retries = get_setting("batch_command_retries")
        wait = get_setting("batch_command_retry_wait")
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(retries + 1),
            wait=tenacity.wait_exponential(multiplier=wait, max=60),
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, BatchCommandError) and not isinstance(e, PermanentBatchError)
            ),
            before_sleep=lambda state: logger.warning(
                "%s failed (attempt %d of %d), retrying: %s",
                what,
                state.attempt_number,
                retries + 1,
                state.outcome.exception() if state.outcome else "",
            ),
            reraise=True,
        )
        return retrying(call, argument)

    # --- stopping ----------------------------------------------------------------------------------

    def cancel(self, jobs: Sequence[TrackedJob], reason: str = "cancelled by b2core") -> int:
        """Cancel the given jobs in one command per backend; returns how many were cancelled."""
        by_backend: dict[str, list[TrackedJob]] = defaultdict(list)
        for job in jobs:
            if job.final is None:
                by_backend[job.backend].append(job)
        count = 0
        for name, group in by_backend.items():
            self.pending[name] = [job for job in self.pending[name] if job not in group]
            submitted = [job for job in group if job.job_id is not None]
            if submitted:
                backend = self.backend(name)
                try:
                    self._with_retries(
                        f"cancelling on {name}",
                        lambda ids, backend=backend: cancel_each(backend, ids, backend.cancel),
                        [j.job_id for j in submitted],
                    )
                except BatchCommandError as error:
                    logger.error("Could not cancel %d job(s) on %s: %s", len(submitted), name, error)
            for job in group:
                self._finish(job, JobStatus(JobState.FAILED, "CANCELLED", reason=reason), retry=False)
            count += len(submitted)
        self._flush_records()
        return count

    def cancel_soon(self, job: TrackedJob) -> None:
        """Cancel a job with the next flush_cancels(), together with others (tasks timing out together)."""
        if job not in self._to_cancel:
            self._to_cancel.append(job)

    def flush_cancels(self) -> None:
        """Cancel every job asked for with cancel_soon(), one command per backend."""
        if self._to_cancel:
            jobs, self._to_cancel = self._to_cancel, []
            self.cancel(jobs, reason="the task's worker_timeout passed")

    def unfinished(self) -> list[TrackedJob]:
        """Jobs of this run that have not ended, pending submission included."""
        jobs = [job for group in self.pending.values() for job in group]
        return jobs + [job for group in self.active.values() for job in group.values()]

    def close(self) -> None:
        """Write what is left and close the job store."""
        self._flush_records()
        if self._store_unwritable:
            logger.error(
                "The records of %d job(s) could not be written to the job store %s; `b2core status` and the next "
                "run see them as they were last written",
                len(set(self._dirty)),
                self.store.path,
            )
        self.store.close()


def _keep_attempt_logs(spec: JobSpec) -> None:
    """Move a failed attempt's logs to attempt-<n>/ so the next attempt starts with fresh files."""
    keep = spec.log_dir / f"attempt-{spec.attempt}"
    keep.mkdir(parents=True, exist_ok=True)
    for log in (spec.stdout, spec.stderr):
        if log.exists():
            shutil.move(str(log), keep / log.name)
