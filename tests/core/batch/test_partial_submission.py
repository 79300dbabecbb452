"""The submit contract: all or nothing, or PartialSubmissionError naming the jobs that did go out. A backend
submitting one command per job (b2core.batch.backend.submit_each) that fails on the 4th of 10 loses nothing
and submits nothing twice."""

from __future__ import annotations

from collections.abc import Sequence

import b2core as b2luigi
import pytest
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus, submit_each
from b2core.batch.engine import BatchEngine
from b2core.batch.jobstore import JobStore
from b2core.errors import BatchCommandError, PartialSubmissionError, PermanentBatchError


class Item(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("item.txt")


class OneByOne(BatchBackend):
    """Submits one command per job, like the plugin guide's example; the n-th command fails as told."""

    name = "onebyone"

    def __init__(self, fail_at: int, error: Exception) -> None:
        super().__init__()
        self.fail_at, self.error = fail_at, error
        self.commands_run = 0
        self.jobs: list[str] = []  # every job the batch system really holds
        self.cancelled: list[str] = []

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """One command per spec."""
        return submit_each(specs, self._submit_one)

    def _submit_one(self, spec: JobSpec) -> str:
        self.commands_run += 1
        if self.commands_run == self.fail_at:
            raise self.error
        self.jobs.append(f"job-{len(self.jobs) + 1}")
        return self.jobs[-1]

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Everything is still queued."""
        return {job_id: JobStatus(JobState.QUEUED, "Q") for job_id in job_ids}

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Remember what was cancelled."""
        self.cancelled += job_ids


def submit_ten(tmp_path, backend: OneByOne) -> tuple[BatchEngine, list]:
    b2luigi.set_setting("batch_command_retry_wait", 0)
    engine = BatchEngine(JobStore(tmp_path / "jobs.sqlite"))
    engine.backends[backend.name] = backend
    jobs = [engine.start(Item(number=n), backend.name) for n in range(10)]
    engine.flush_submissions()
    return engine, jobs


def test_a_transient_failure_on_the_fourth_job_resubmits_only_the_rest(tmp_path) -> None:
    """10 tasks, 10 jobs: the retry submits jobs 4-10, never 1-3 again."""
    backend = OneByOne(fail_at=4, error=BatchCommandError(["mysub"], 1, stderr="queue busy"))
    engine, jobs = submit_ten(tmp_path, backend)
    assert len(backend.jobs) == 10, "no job submitted twice"
    assert [job.job_id for job in jobs] == backend.jobs
    assert all(job.final is None for job in jobs)
    assert {r.job_id for r in engine.store.all_latest()} == set(backend.jobs), "every id is recorded"


def test_a_permanent_failure_keeps_the_jobs_that_went_out_and_ctrl_c_cancels_them(tmp_path) -> None:
    """Jobs 1-3 exist: they stay tracked (and cancellable); only 4-10 fail, with the batch system's words."""
    backend = OneByOne(fail_at=4, error=PermanentBatchError(["mysub"], 2, stderr="no such queue"))
    engine, jobs = submit_ten(tmp_path, backend)
    assert [job.job_id for job in jobs[:3]] == backend.jobs == ["job-1", "job-2", "job-3"]
    assert all(job.final is None for job in jobs[:3])
    assert {job.final.native_state for job in jobs[3:]} == {"SUBMISSION_FAILED"}
    assert all("no such queue" in job.final.reason for job in jobs[3:])
    assert engine.cancel(engine.unfinished()) == 3
    assert backend.cancelled == ["job-1", "job-2", "job-3"], "no orphan job is left running"


def test_submit_each_raises_the_plain_error_when_nothing_went_out() -> None:
    """A failing first command is all-or-nothing's 'nothing': the original error, not a partial one."""
    backend = OneByOne(fail_at=1, error=BatchCommandError(["mysub"], 1, stderr="down"))
    specs = [object(), object()]
    with pytest.raises(BatchCommandError, match="down") as raised:
        submit_each(specs, backend._submit_one)  # type: ignore[arg-type]
    assert not isinstance(raised.value, PartialSubmissionError)
    backend = OneByOne(fail_at=2, error=BatchCommandError(["mysub"], 1, stderr="down"))
    with pytest.raises(PartialSubmissionError) as partial:
        submit_each(specs, backend._submit_one)  # type: ignore[arg-type]
    assert partial.value.submitted_ids == ["job-1"] and "down" in str(partial.value.cause)


def test_batch_command_errors_keep_the_message_of_commands_given_path_arguments(tmp_path) -> None:
    """PermanentBatchError(argv, returncode, stdout, stderr) as the plugin guide shows it, argv holding Paths."""
    error = PermanentBatchError(["mysub", tmp_path / "job.sh"], 2, stderr="mysub: unknown queue long")
    assert error.argv == ["mysub", str(tmp_path / "job.sh")]
    assert str(error).endswith("failed with exit code 2: mysub: unknown queue long")
