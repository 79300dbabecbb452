"""A custom batch system written for b2luigi (from its "Add your own batch system" docs) runs unchanged.

The BatchProcess below starts each task's executable wrapper as a detached local process, the way
b2luigi's documentation describes start_job, get_job_status and terminate_job.
"""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest
from core_fixtures import _alive

STEERING = """
import json
import os
import signal
import subprocess
import time

import b2luigi
from b2luigi.batch.processes import BatchProcess, JobStatus
from b2luigi.core.executable import create_executable_wrapper
from b2luigi.core.utils import get_log_file_dir

JOURNAL = os.environ["JOURNAL"]


def note(**entry):
    with open(JOURNAL, "a") as journal:
        journal.write(json.dumps(entry) + "\\n")


class ShellProcess(BatchProcess):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._process = None
        self._polls = 0

    def start_job(self):
        log_dir = get_log_file_dir(self.task)
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, "stdout"), "w") as out, open(os.path.join(log_dir, "stderr"), "w") as err:
            self._process = subprocess.Popen(
                [create_executable_wrapper(self.task)], stdout=out, stderr=err, start_new_session=True
            )
        note(event="start", task=self.task.task_id, pid=self._process.pid)

    def get_job_status(self):
        self._polls += 1
        if self._polls == 1:
            return JobStatus.idle  # still "in the queue"
        code = self._process.poll()
        if code is None:
            return JobStatus.running
        return JobStatus.successful if code == 0 else JobStatus.aborted

    def terminate_job(self):
        note(event="terminate", task=self.task.task_id, pid=self._process.pid)
        os.killpg(self._process.pid, signal.SIGTERM)


class Square(b2luigi.Task):
    number = b2luigi.IntParameter()
    batch_system = "custom"
    process_class = ShellProcess

    def output(self):
        yield self.add_to_output("square.txt")

    def run(self):
        if self.number == int(os.environ.get("FAIL", "-1")):
            raise RuntimeError(f"square of {self.number} refused")
        if os.environ.get("HANG"):
            note(event="hanging", task=self.task_id, pid=os.getpid())
            time.sleep(300)
        with open(self.get_output_file_name("square.txt"), "w") as f:
            f.write(str(self.number**2))


class Sum(b2luigi.Task):
    def requires(self):
        for number in range(3):
            yield Square(number=number)

    def output(self):
        yield self.add_to_output("sum.txt")

    def run(self):
        total = sum(int(open(name).read()) for name in self.get_input_file_names("square.txt"))
        with open(self.get_output_file_name("sum.txt"), "w") as f:
            f.write(str(total))


if __name__ == "__main__":
    b2luigi.process(Sum(), workers=3)
"""


def journal(workflow) -> list[dict]:
    path = workflow.path / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def custom(workflow):
    workflow.write(STEERING)
    workflow.env["JOURNAL"] = str(workflow.path / "journal.jsonl")
    return workflow


def test_tasks_run_through_the_custom_process_and_results_are_used_downstream(custom) -> None:
    run = custom.run()
    assert run.returncode == 0, run
    assert (custom.path / "sum.txt").read_text() == "5"
    starts = [entry for entry in journal(custom) if entry["event"] == "start"]
    assert len(starts) == 3 and all(entry["task"].startswith("Square_") for entry in starts)
    for number in range(3):
        log = custom.path / "logs" / f"number={number}" / "Square" / "stdout"
        assert "Will now execute the program" in log.read_text()
    with sqlite3.connect(custom.path / "logs" / ".b2core" / "jobs.sqlite") as db:
        states = {row[0] for row in db.execute("SELECT state FROM jobs WHERE backend = 'custom'")}
    assert states == {"succeeded"}


def test_a_failing_job_fails_its_task_and_what_depends_on_it_naming_the_log(custom) -> None:
    run = custom.run(env={"FAIL": "1"})
    assert run.returncode == 1, run
    assert "square of 1 refused" in run.output, run
    assert "stderr" in run.output and "aborted" in run.output, run
    assert not (custom.path / "number=1" / "square.txt").exists()
    assert not (custom.path / "sum.txt").exists()
    assert (custom.path / "number=0" / "square.txt").read_text() == "0"
    rerun = custom.run()
    assert rerun.returncode == 0 and (custom.path / "sum.txt").read_text() == "5", rerun


def test_ctrl_c_calls_terminate_job_for_every_running_job(custom, wait) -> None:
    process = custom.start(env={"HANG": "1"})
    wait(lambda: len([e for e in journal(custom) if e["event"] == "hanging"]) == 3, what="three hanging jobs")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) != 0, custom.log()
    entries = journal(custom)
    started = {e["task"]: e["pid"] for e in entries if e["event"] == "start"}
    terminated = {e["task"]: e["pid"] for e in entries if e["event"] == "terminate"}
    assert terminated == started, custom.log()
    hanging = [e["pid"] for e in entries if e["event"] == "hanging"]
    wait(lambda: not any(_alive(pid) for pid in hanging), what="the jobs to end")
    assert not list(custom.path.glob("number=*/square.txt"))
