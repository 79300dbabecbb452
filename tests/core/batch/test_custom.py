"""The built-in `custom` backend: a b2luigi-style BatchProcess class per task, driven by the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import b2core
import pytest
from b2core.batch.backend import JobState
from b2core.batch.custom import BatchProcess, CustomBackend, ProcessStatus
from b2core.batch.engine import BatchEngine
from b2core.batch.jobstore import JobStore
from b2core.errors import SettingsError


class Scripted(BatchProcess):
    """Answers get_job_status() from a class-level script of statuses (or exceptions to raise)."""

    answers: list[Any] = []
    terminated: list[str] = []

    def start_job(self) -> None:
        self.remaining = list(type(self).answers)

    def get_job_status(self) -> Any:
        answer = self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def terminate_job(self) -> None:
        type(self).terminated.append(self.task.task_id)
        raise RuntimeError("terminate_job errors are logged, never raised")


class Job(b2core.Task):
    number = b2core.IntParameter()
    batch_system = "custom"
    process_class = Scripted

    def output(self):
        yield self.add_to_output("out.txt")


def statuses(answers: list[Any], polls: int) -> list[tuple[JobState, str, str]]:
    """Start one job whose process answers `answers`, poll it `polls` times, return what the backend saw."""
    Scripted.answers = answers
    backend = CustomBackend()
    engine = BatchEngine(JobStore(Path(b2core.get_setting("log_dir")) / "jobs.sqlite"))
    spec = engine._spec(Job(number=1), backend, 1)
    [job_id] = backend.submit([spec])
    seen = []
    for _ in range(polls):
        status = backend.query([job_id]).get(job_id)
        if status is None:
            break
        seen.append((status.state, status.native_state, status.reason))
    engine.close()
    return seen


def test_process_statuses_map_onto_the_engines_states_idle_included() -> None:
    """idle is queued (b2luigi raises on it), then running, then successful ends the job."""
    seen = statuses([ProcessStatus.idle, ProcessStatus.running, ProcessStatus.successful], polls=4)
    assert [s[:2] for s in seen] == [
        (JobState.QUEUED, "idle"),
        (JobState.RUNNING, "running"),
        (JobState.SUCCEEDED, "successful"),
    ]


def test_a_status_call_that_keeps_raising_fails_the_job_naming_the_error() -> None:
    """Two errors keep the last state; the third in a row fails the job with the exception in the reason."""
    seen = statuses([ProcessStatus.running, OSError("qstat down"), ProcessStatus.running], polls=2)
    assert seen[1][0] is JobState.RUNNING
    seen = statuses([OSError("qstat down")], polls=5)
    assert [s[0] for s in seen] == [JobState.QUEUED, JobState.QUEUED, JobState.FAILED]
    assert "Scripted.get_job_status() raised OSError('qstat down')" in seen[-1][2]


def test_an_answer_that_is_no_job_status_fails_the_job() -> None:
    [seen] = statuses(["done"], polls=3)
    assert seen[0] is JobState.FAILED and "returned 'done', not a JobStatus" in seen[2]


def test_cancel_calls_terminate_job_and_survives_its_errors() -> None:
    Scripted.answers, Scripted.terminated = [ProcessStatus.running], []
    backend = CustomBackend()
    engine = BatchEngine(JobStore(Path(b2core.get_setting("log_dir")) / "jobs.sqlite"))
    specs = [engine._spec(Job(number=n), backend, 1) for n in (1, 2)]
    ids = [backend.submit([spec])[0] for spec in specs]
    backend.cancel(ids)
    assert Scripted.terminated == [spec.task_id for spec in specs]
    assert backend.query(ids) == {}
    engine.close()


@pytest.mark.parametrize("process_class", [None, object, "Scripted"])
def test_a_missing_or_wrong_process_class_is_a_settings_error_naming_the_task(process_class: Any) -> None:
    task = Job(number=7)
    task.process_class = process_class
    with pytest.raises(SettingsError, match=r"Job\(number=7\)|Job_7"):
        CustomBackend().job_settings(task)


def test_a_restart_submits_again_instead_of_re_attaching_to_a_process_only_the_dead_run_knew(caplog) -> None:
    Scripted.answers = [ProcessStatus.running]
    store_path = Path(b2core.get_setting("log_dir")) / "jobs.sqlite"
    first = BatchEngine(JobStore(store_path))
    job = first.start(Job(number=3), "custom")
    first.flush_submissions()
    assert job.job_id is not None
    first.close()  # the steering process dies with the job running
    second = BatchEngine(JobStore(store_path))
    again = second.start(Job(number=3), "custom")
    second.flush_submissions()
    assert not again.reattached and again.spec.attempt == 2 and again.job_id not in (None, job.job_id)
    assert "cannot re-attach to it; submitting again" in caplog.text
    second.close()
