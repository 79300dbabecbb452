"""The batch engine against an in-process backend with a controlled clock: the edge cases a real queue
cannot be made to produce on demand (a status parser that crashes, exact timestamps)."""

from __future__ import annotations

from collections.abc import Sequence

import b2core as b2luigi
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.engine import BatchEngine
from b2core.batch.jobstore import JobStore


class Numbered(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("n.txt")


class Scripted(BatchBackend):
    """Accepts every submission; answers queries with `answer`, which may be an exception to raise."""

    name = "scripted"

    def __init__(self) -> None:
        super().__init__()
        self.answer: object = {}
        self.submitted: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Hand out ids 1, 2, ..."""
        ids = [str(len(self.submitted) + i + 1) for i in range(len(specs))]
        self.submitted += ids
        return ids

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Answer as scripted."""
        if isinstance(self.answer, Exception):
            raise self.answer
        return {job_id: self.answer[job_id] for job_id in job_ids if job_id in self.answer}

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Remember what was cancelled."""
        self.cancelled += job_ids


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def engine_with_jobs(tmp_path, count: int = 2) -> tuple[BatchEngine, Scripted, Clock, list]:
    clock = Clock()
    engine = BatchEngine(JobStore(tmp_path / "jobs.sqlite"), clock=clock)
    backend = engine.backends["scripted"] = Scripted()
    jobs = [engine.start(Numbered(number=n), "scripted") for n in range(count)]
    engine.flush_submissions()
    return engine, backend, clock, jobs


def test_a_crashing_status_parser_cancels_the_jobs_after_a_few_polls(tmp_path) -> None:
    """A bug in a backend's query must not leave jobs running that a restart would submit again."""
    engine, backend, clock, jobs = engine_with_jobs(tmp_path)
    backend.answer = ValueError("unexpected line in status output")
    for _ in range(2):
        clock.now += 10
        engine.tick()
    assert all(job.final is None for job in jobs) and backend.cancelled == []
    clock.now += 10
    engine.tick()
    assert sorted(backend.cancelled) == ["1", "2"]
    assert {job.final.native_state for job in jobs} == {"CANCELLED"}
    assert all("unexpected line in status output" in job.final.reason for job in jobs)


def test_records_keep_their_submission_time(tmp_path) -> None:
    """Status updates rewrite a record; when it was submitted stays what it was."""
    engine, backend, clock, jobs = engine_with_jobs(tmp_path, count=1)
    submitted = engine.store.latest(jobs[0].spec.task_id).submitted
    assert submitted is not None
    backend.answer = {"1": JobStatus(JobState.RUNNING, "R")}
    clock.now += 10
    engine.tick()
    backend.answer = {"1": JobStatus(JobState.SUCCEEDED, "DONE", exit_code=0)}
    clock.now += 10
    engine.tick()
    record = engine.store.latest(jobs[0].spec.task_id)
    assert (record.state, record.submitted) == ("succeeded", submitted)
    assert record.finished is not None and record.finished >= submitted
    engine.close()


def test_a_submission_that_returns_too_few_ids_fails_its_tasks_not_the_run(tmp_path) -> None:
    """A backend bug during submission is reported on the tasks; the engine keeps going."""
    clock = Clock()
    engine = BatchEngine(JobStore(tmp_path / "jobs.sqlite"), clock=clock)
    backend = engine.backends["scripted"] = Scripted()
    backend.submit = lambda specs: ["1"]  # type: ignore[method-assign]
    jobs = [engine.start(Numbered(number=n), "scripted") for n in range(2)]
    engine.flush_submissions()
    assert {job.final.native_state for job in jobs} == {"SUBMISSION_FAILED"}
    assert all("returned 1 job ids for 2 jobs" in job.final.reason for job in jobs)
    assert {r.state for r in engine.store.all_latest()} == {"failed"}


def test_a_lost_job_is_resubmitted_without_using_up_max_resubmissions_and_not_for_ever(tmp_path) -> None:
    """max_resubmissions = 1. A restart finds attempt 1 gone without exit code: attempt 2, free. Attempt 2 fails
    while watched: attempt 3 (the one resubmission). Attempt 3 lost at the next restart: attempt 4 (the second
    free one of max_resubmissions + 1). Attempt 4 lost again: the task fails, it is not submitted for ever."""
    b2luigi.set_setting("max_resubmissions", 1)
    store = JobStore(tmp_path / "jobs.sqlite")
    lost = JobStatus(JobState.FAILED, "GONE")

    def restart_and_lose() -> object:
        """A new steering process re-attaches to the task's job and finds it gone without exit code."""
        engine = BatchEngine(store, clock=Clock())
        backend = engine.backends["scripted"] = Scripted()
        job = engine.start(Numbered(number=1), "scripted")
        assert job.reattached
        backend.submitted = [str(job.spec.attempt)]  # the next submission gets id attempt + 1
        backend.answer = {job.job_id: lost}
        engine.clock.now += 10
        engine.tick()
        engine.flush_submissions()
        return engine, backend, job

    engine = BatchEngine(store, clock=Clock())
    engine.backends["scripted"] = Scripted()
    first = engine.start(Numbered(number=1), "scripted")
    engine.flush_submissions()
    assert (first.spec.attempt, first.job_id) == (1, "1")

    engine, backend, job = restart_and_lose()
    assert (job.spec.attempt, job.job_id, job.final) == (2, "2", None)
    backend.answer = {"2": JobStatus(JobState.FAILED, "FAILED", exit_code=1)}  # watched now
    engine.clock.now += 10
    engine.tick()
    engine.flush_submissions()
    assert (job.spec.attempt, job.final) == (3, None), "the lost attempt did not use up the resubmission"

    engine, backend, job = restart_and_lose()
    assert (job.spec.attempt, job.final) == (4, None)

    engine, backend, job = restart_and_lose()
    assert job.final is not None and job.final.state is JobState.FAILED
    assert [record.attempt for record in store.history(job.spec.task_id)] == [1, 2, 3, 4]
