"""The batch engine on a third-party backend (the example plugin): bulk submission, one status query per
poll for all jobs, retries of flaky commands, permanent failures, killed jobs, resubmission, missing outputs,
dynamic dependencies."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import b2core as b2luigi
from b2core.batch.jobstore import JobStore

POLL_INTERVAL = 0.2


def job_records(workflow) -> dict[str, object]:
    """The job store's newest record per task, by task id."""
    store = JobStore(workflow.path / "logs" / ".b2core" / "jobs.sqlite")
    try:
        return {record.task_id: record for record in store.all_latest()}
    finally:
        store.close()


def outputs(workflow) -> dict[str, str]:
    """Output values of the cheap tasks, by folder."""
    return {p.parent.name: p.read_text().strip() for p in workflow.path.glob("number=*/out.txt")}


FULL_STEERING = """
import os
import b2core as b2luigi

class Number(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("number.txt")

    def run(self):
        print(f"job for number {self.number} in pid {os.getpid()}")
        with open(self.get_output_file_name("number.txt"), "w") as f:
            f.write(str(self.number * 2))

class Sum(b2luigi.Task):
    def requires(self):
        for number in range(3):
            yield Number(number=number)

    def output(self):
        yield self.add_to_output("sum.txt")

    def run(self):
        total = sum(int(open(p).read()) for p in self.get_input_file_names("number.txt"))
        with open(self.get_output_file_name("sum.txt"), "w") as f:
            f.write(str(total))

if __name__ == "__main__":
    b2luigi.set_setting("batch_system", "example")
    b2luigi.process(Sum(), workers=3, batch=True)
"""


def test_workflow_runs_on_the_third_party_backend_by_name(example, queue) -> None:
    """batch_system = "example": every task is a job in the example queue; results, logs and records are there."""
    example.write(FULL_STEERING)
    run = example.run()
    assert run.returncode == 0, run
    assert (example.path / "sum.txt").read_text() == "6"
    assert sorted(queue.submissions_per_task().values()) == [1, 1, 1, 1]
    stdout = example.path / "logs" / "number=2" / "Number" / "stdout"
    assert "job for number 2" in stdout.read_text()
    records = job_records(example)
    assert len(records) == 4
    assert {(r.backend, r.state) for r in records.values()} == {("example", "succeeded")}
    assert str(os.getpid()) not in stdout.read_text()
    again = example.run()
    assert again.returncode == 0 and len(queue.jobs()) == 4, again


def test_bulk_submission_uses_a_few_commands_for_100_tasks(cheap, queue) -> None:
    """100 runnable tasks with workers=100 go out in very few exsub calls, not one per task."""
    run = cheap.run(env={"COUNT": "100"})
    assert run.returncode == 0, run
    assert len(outputs(cheap)) == 100
    submits = queue.calls("exsub")
    assert sum(c["n_ids"] for c in submits) == 100
    assert len(submits) <= 3, submits


def test_one_status_query_per_poll_interval_for_all_jobs(cheap, queue) -> None:
    """50 jobs in flight: exstat is called about once per poll interval with every job, never per job."""
    run = cheap.run(env={"COUNT": "50", "DELAY": "2"})
    assert run.returncode == 0, run
    assert len(outputs(cheap)) == 50
    polls = queue.calls("exstat")
    assert polls, run
    elapsed = polls[-1]["time"] - queue.calls("exsub")[0]["time"]
    assert len(polls) <= elapsed / POLL_INTERVAL + 2, polls
    assert len(polls) < 50
    assert polls[0]["n_ids"] >= 40, polls  # the first poll asks about (nearly) all jobs at once


def test_transient_status_failures_are_retried_and_logged(cheap, queue) -> None:
    """exstat failing twice then answering: the run succeeds, each retry is logged with the command's text."""
    queue.fail_next(exstat=2)
    run = cheap.run(env={"COUNT": "3", "DELAY": "0.5"})
    assert run.returncode == 0, run
    assert len(outputs(cheap)) == 3
    retries = [line for line in run.output.splitlines() if "retrying" in line]
    assert len(retries) == 2, run
    assert all("cannot reach the example queue daemon" in line for line in retries)
    assert len(queue.calls("exstat")) >= 3


def test_transient_submission_failure_is_retried(cheap, queue) -> None:
    """A flaky exsub is called again; every task is submitted exactly once."""
    queue.fail_next(exsub=1)
    run = cheap.run(env={"COUNT": "4"})
    assert run.returncode == 0, run
    assert len(queue.calls("exsub")) == 2
    assert sorted(queue.submissions_per_task().values()) == [1, 1, 1, 1]


def test_status_outage_keeps_jobs_tracked(cheap, queue) -> None:
    """A status command down for longer than its retries: the jobs run on, are not failed, not resubmitted."""
    queue.fail_next(exstat=9)
    run = cheap.run(env={"COUNT": "2", "DELAY": "0.5", "B2CORE_BATCH_COMMAND_RETRIES": "1"})
    assert run.returncode == 0, run
    assert "did not answer the status query (3 time(s) in a row); jobs stay tracked" in run.stderr, run
    assert "cannot reach the example queue daemon" in run.stderr
    assert sorted(queue.submissions_per_task().values()) == [1, 1]
    assert len(outputs(cheap)) == 2
    assert len(queue.calls("exstat")) >= 10


def test_permanent_failure_fails_tasks_with_the_commands_own_text(cheap, queue) -> None:
    """An unknown queue is not retried; each task fails quoting exsub's error."""
    run = cheap.run(env={"COUNT": "2", "B2CORE_EXAMPLE_QUEUE": "nonexistent"})
    assert run.returncode == 1, run
    assert len(queue.calls("exsub")) == 1
    assert run.stderr.count("queue 'nonexistent' does not exist") >= 2, run
    assert outputs(cheap) == {}
    reasons = {r.reason for r in job_records(cheap).values()}
    assert all("queue 'nonexistent' does not exist" in reason for reason in reasons), reasons


def kill_first_job_when_running(queue, wait, marker: Path) -> None:
    """Kill the first job's processes from outside (as an administrator or the OOM killer would) once it hangs."""
    job = wait(lambda: next((j for j in queue.jobs() if j.get("pid")), None), what="the job to start")
    wait(marker.exists, what="the first attempt to hang")
    assert queue.state(job["id"]) == "RUNNING"
    os.killpg(job["pid"], signal.SIGKILL)


def test_job_killed_from_outside_is_reported_failed(cheap, queue, wait, tmp_path: Path) -> None:
    """Without resubmission a killed job fails its task, naming what the batch system said."""
    process = cheap.start(env={"COUNT": "1", "SLOW_ONCE": str(tmp_path / "slow-once")})
    kill_first_job_when_running(queue, wait, tmp_path / "slow-once")
    assert process.wait(timeout=60) == 1, cheap.log()
    assert "KILLED" in cheap.log()
    assert outputs(cheap) == {}
    assert [r.state for r in job_records(cheap).values()] == ["failed"]


def test_killed_job_is_resubmitted_and_attempt_logs_are_kept(cheap, queue, wait, tmp_path: Path) -> None:
    """max_resubmissions=1: the killed job is submitted again and succeeds; attempt-1/ keeps the first logs."""
    process = cheap.start(env={"COUNT": "1", "SLOW_ONCE": str(tmp_path / "slow-once"), "B2CORE_MAX_RESUBMISSIONS": "1"})
    kill_first_job_when_running(queue, wait, tmp_path / "slow-once")
    assert process.wait(timeout=60) == 0, cheap.log()
    assert outputs(cheap) == {"number=0": "0"}
    assert list(queue.submissions_per_task().values()) == [2]
    log_folder = cheap.path / "logs" / "number=0" / "Cheap"
    assert (log_folder / "attempt-1" / "stdout").exists() and (log_folder / "attempt-1" / "stderr").exists()
    assert (log_folder / "stdout").exists()
    [record] = job_records(cheap).values()
    assert (record.attempt, record.state) == (2, "succeeded")


def test_job_killed_by_the_batch_system_is_resubmitted(cheap, queue) -> None:
    """The queue's own kill (exstat told to kill one running job) is handled like any failed attempt."""
    queue.kill_next(1)
    # the kill hits a job that a status query sees running: DELAY leaves a loaded machine time for one
    run = cheap.run(env={"COUNT": "1", "DELAY": "8", "RESUBMIT": "1"})  # max_resubmissions as a task attribute
    assert run.returncode == 0, run
    assert list(queue.submissions_per_task().values()) == [2]
    assert "KILLED" in run.output


def test_task_naming_its_batch_system_goes_there_without_the_batch_flag(cheap, queue) -> None:
    """As in b2luigi: a task attribute batch_system beats the local default of a run without --batch."""
    run = cheap.run(env={"COUNT": "2", "NO_BATCH_FLAG": "1"})
    assert run.returncode == 0, run
    assert len(queue.jobs()) == 2 and len(outputs(cheap)) == 2


def test_worker_timeout_cancels_the_job_and_fails_the_task(cheap, queue) -> None:
    """luigi's task timeout works in batch mode (b2luigi crashed): the job is cancelled, the task fails."""
    run = cheap.run(env={"COUNT": "1", "DELAY": "60", "TIMEOUT": "1.5"})
    assert run.returncode == 1, run
    assert "timed out" in run.output, run
    assert [c["n_ids"] for c in queue.calls("excancel")] == [1]
    assert {queue.state(job["id"]) for job in queue.jobs()} == {"CANCELLED"}


MISSING_AND_DYNAMIC = """
import b2core as b2luigi

class Dependency(b2luigi.Task):
    def output(self):
        yield self.add_to_output("dependency.txt")

    def run(self):
        with open(self.get_output_file_name("dependency.txt"), "w") as f:
            f.write("7")

class Dynamic(b2luigi.Task):
    def output(self):
        yield self.add_to_output("dynamic.txt")

    def run(self):
        dependency = Dependency()
        yield dependency
        value = open(dependency.get_output_file_name("dependency.txt")).read()
        with open(self.get_output_file_name("dynamic.txt"), "w") as f:
            f.write(value * 2)

class Lazy(b2luigi.Task):
    def output(self):
        yield self.add_to_output("promised.txt")
        yield self.add_to_output("also_promised.txt")

    def run(self):
        print("finishing without writing anything")

class All(b2luigi.WrapperTask):
    def requires(self):
        yield Dynamic()
        yield Lazy()

if __name__ == "__main__":
    b2luigi.set_setting("batch_system", "example")
    b2luigi.process(All(), workers=3, batch=True)
"""


def test_dynamic_dependencies_work_and_missing_outputs_fail(example, queue) -> None:
    """yield in run() completes with its output in batch mode; a job that succeeds without outputs fails."""
    example.write(MISSING_AND_DYNAMIC)
    run = example.run(timeout=180)
    assert run.returncode == 1, run
    assert (example.path / "dynamic.txt").read_text() == "77"
    assert (example.path / "dependency.txt").read_text() == "7"
    assert "outputs are missing" in run.stderr, run
    assert str(example.path / "promised.txt") in run.stderr
    assert str(example.path / "also_promised.txt") in run.stderr
    submitted = queue.submissions_per_task()
    assert sum(1 for name in submitted if name.startswith("Dependency")) == 1


def test_poll_intervals_below_luigis_wait_interval_are_honoured() -> None:
    """luigi's worker looks at running tasks once per wait_interval (1 s): the engine shortens it to the
    poll/submit interval, or a 0.2 s poll_interval would mean one poll a second."""
    from b2core.worker import B2Worker

    b2luigi.set_setting("poll_interval", 0.2)
    b2luigi.set_setting("submit_interval", 0.5)
    with B2Worker() as worker:
        assert worker._config.wait_interval == 1.0
        worker._engine()
        assert worker._config.wait_interval == 0.2
