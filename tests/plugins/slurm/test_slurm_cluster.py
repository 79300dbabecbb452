"""End-to-end tests against the real local Slurm cluster (scripts/slurm-cluster.sh).

Each test writes a steering script and runs it the way a user does (`python steering.py --batch`),
then checks results, logs, the job store and Slurm's own accounting.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_testkit import Workflow, new_workflow, sacct, squeue_state, wait_for

CLUSTER_SCRIPT = str(Path(__file__).resolve().parents[3] / "scripts" / "slurm-cluster.sh")

pytestmark = pytest.mark.slurm

# Upper bounds for waits and runs. They only stop a hanging test: on a cluster shared with other
# runs, jobs may wait minutes for a free CPU, and nothing here measures speed.
WAIT = 300

SEEDS_EXAMPLE = """
import b2core as b2luigi
import random


class MyNumberTask(b2luigi.Task):
    some_parameter = b2luigi.IntParameter()
    batch_system = "slurm"
    slurm_settings = {"export": "NONE", "ntasks": 1, "mem": "100MB"}

    def output(self):
        yield self.add_to_output("output_file.txt")

    def run(self):
        print("I am now starting a task")
        random_number = random.random()

        with open(self.get_output_file_name("output_file.txt"), "w") as f:
            f.write(f"{random_number}\\n")


class MyAverageTask(b2luigi.Task):
    batch_system = "slurm"
    slurm_settings = {"export": "NONE", "ntasks": 1, "mem": "100MB"}

    def requires(self):
        for i in range(10):
            yield self.clone(MyNumberTask, some_parameter=i)

    def output(self):
        yield self.add_to_output("average.txt")

    def run(self):
        print("I am now starting the average task")

        # Build the mean
        summed_numbers = 0
        counter = 0
        for input_file in self.get_input_file_names("output_file.txt"):
            with open(input_file, "r") as f:
                summed_numbers += float(f.read())
            counter += 1

        average = summed_numbers / counter

        with open(self.get_output_file_name("average.txt"), "w") as f:
            f.write(f"{average}\\n")


if __name__ == "__main__":
    b2luigi.process(MyAverageTask(), workers=200, batch=True)
"""


@pytest.mark.usefixtures("timeout_run")  # starts the 60-90 s TIMEOUT job now, to overlap
def test_seeds_example_runs_on_slurm(slurm_cluster: None, workflow: Workflow) -> None:
    """The documentation's Slurm example, unchanged and started without flags (batch=True), runs with arrays."""
    workflow.write(SEEDS_EXAMPLE)
    result = workflow.run(timeout=WAIT)
    assert result.returncode == 0, result.stdout
    numbers = [float((workflow.folder / f"some_parameter={i}" / "output_file.txt").read_text()) for i in range(10)]
    average = float((workflow.folder / "average.txt").read_text())
    assert average == pytest.approx(sum(numbers) / 10)
    stdout = (workflow.folder / "logs" / "some_parameter=3" / "MyNumberTask" / "stdout").read_text()
    assert "I am now starting a task" in stdout
    assert "I am now starting the average task" in (workflow.folder / "logs" / "MyAverageTask" / "stdout").read_text()

    jobs = workflow.jobs()
    assert len(jobs) == 11 and {job["backend"] for job in jobs} == {"slurm"}
    number_ids = [job["job_id"] for job in jobs if job["family"] == "MyNumberTask"]
    assert len({job_id.split("_")[0] for job_id in number_ids}) == 1, "the 10 number tasks go out as one array"
    assert workflow.calls("sbatch") == 2
    records = sacct(*[str(job["job_id"]) for job in jobs], expect=11)
    assert len(records) == 11
    assert {(r["State"], r["ExitCode"]) for r in records} == {("COMPLETED", "0:0")}
    assert {r["JobName"] for r in records} == {"MyNumberTask", "MyAverageTask"}
    script = next((workflow.folder / "task_files" / ".submissions").glob("slurm-*/slurm_parameters.sh")).read_text()
    assert "#SBATCH --array=0-9" in script and "#SBATCH --export=NONE" in script and "#SBATCH --mem=100MB" in script


def test_export_none_with_env_script(slurm_cluster: None, workflow: Workflow) -> None:
    """--export=NONE keeps the submitter's variables out of the job; env_script puts its own in.

    B2CORE_* settings variables still reach the job (the submit script exports them).
    """
    (workflow.folder / "setup_env.sh").write_text("export B2T_FROM_ENV_SCRIPT=sourced\n")
    workflow.write(
        """
        import os
        import b2core as b2luigi


        class EnvTask(b2luigi.Task):
            batch_system = "slurm"
            slurm_settings = {"export": "NONE", "ntasks": 1, "mem": "100MB"}
            env_script = "setup_env.sh"

            def output(self):
                yield self.add_to_output("env.txt")

            def run(self):
                with open(self.get_output_file_name("env.txt"), "w") as f:
                    f.write(os.environ.get("B2T_FROM_ENV_SCRIPT", "-") + " " + os.environ.get("B2T_LEAK", "-"))


        if __name__ == "__main__":
            b2luigi.set_setting("job_name", "{job_name}")
            b2luigi.process(EnvTask(), batch=True)
        """
    )
    result = workflow.run("--batch", timeout=WAIT, B2T_LEAK="leaked", B2CORE_RESULT_DIR="results")
    assert result.returncode == 0, result.stdout
    assert (workflow.folder / "results" / "env.txt").read_text() == "sourced -"
    [record] = sacct(name=workflow.job_name, expect=1)
    assert record["State"] == "COMPLETED"
    script = (workflow.folder / "task_files" / "EnvTask" / "slurm_parameters.sh").read_text()
    assert f"#SBATCH --job-name={workflow.job_name}" in script


@pytest.mark.usefixtures("timeout_run")  # starts the 60-90 s TIMEOUT job now, to overlap
def test_300_tasks_use_few_submissions(slurm_cluster: None, workflow: Workflow) -> None:
    """300 tasks with 300 workers: job arrays keep sbatch calls (and polls) few."""
    workflow.write(
        """
        import b2core as b2luigi


        class Leaf(b2luigi.Task):
            n = b2luigi.IntParameter()

            def output(self):
                yield self.add_to_output("leaf.txt")

            def run(self):
                with open(self.get_output_file_name("leaf.txt"), "w") as f:
                    f.write(f"{self.n}\\n")


        class Total(b2luigi.Task):
            def requires(self):
                for n in range(299):
                    yield Leaf(n=n)

            def output(self):
                yield self.add_to_output("total.txt")

            def run(self):
                total = sum(int(open(name).read()) for name in self.get_input_file_names("leaf.txt"))
                with open(self.get_output_file_name("total.txt"), "w") as f:
                    f.write(f"{total}\\n")


        if __name__ == "__main__":
            b2luigi.set_setting("batch_system", "slurm")
            b2luigi.set_setting("job_name", "{job_name}")
            b2luigi.process(Total(), workers=300, batch=True)
        """
    )
    started = time.monotonic()
    result = workflow.run("--batch", timeout=2 * WAIT)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-5000:]
    assert int((workflow.folder / "total.txt").read_text()) == sum(range(299))

    jobs = workflow.jobs()
    assert len(jobs) == 300
    base_ids = {str(job["job_id"]).split("_")[0] for job in jobs}
    records = sacct(name=workflow.job_name, expect=300)
    assert len(records) == 300, "exactly one Slurm job per task"
    assert {r["JobID"].split("_")[0] for r in records} == base_ids
    submissions = workflow.calls("sbatch")
    assert submissions == len(base_ids) <= 10
    print(
        f"\n300 tasks: {elapsed:.0f} s, {submissions} sbatch, {workflow.calls('squeue')} squeue, "
        f"{workflow.calls('sacct')} sacct calls"
    )


SLEEPER = """
import time
import b2core as b2luigi


class Sleeper(b2luigi.Task):
    name = b2luigi.Parameter()
    seconds = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("slept.txt")

    def run(self):
        print("sleeping", flush=True)
        time.sleep(self.seconds)
        with open(self.get_output_file_name("slept.txt"), "w") as f:
            f.write("done\\n")
"""


def test_job_cancelled_from_outside_is_reported(slurm_cluster: None, workflow: Workflow) -> None:
    """scancel by someone else: the task fails and the output names CANCELLED and who cancelled it."""
    workflow.write(
        SLEEPER
        + """
if __name__ == "__main__":
    b2luigi.set_setting("batch_system", "slurm")
    b2luigi.set_setting("job_name", "{job_name}")
    b2luigi.process(Sleeper(name="victim", seconds=120), batch=True)
"""
    )
    process = workflow.start("--batch")
    try:
        job_id = wait_for(lambda: _job_id(workflow), WAIT, "the job to be submitted")
        wait_for(lambda: squeue_state(job_id) == "RUNNING", WAIT, f"job {job_id} to run")
        subprocess.run(["scancel", job_id], check=True)
        process.wait(timeout=WAIT)
    finally:
        _stop(process)
    output = workflow.output()
    assert process.returncode == 1, output
    assert f"job {job_id} ended CANCELLED" in output
    assert "cancelled by user id 0" in output or "killed by signal 15" in output
    [job] = workflow.jobs()
    assert (job["state"], job["native_state"]) == ("failed", "CANCELLED")
    assert sacct(job_id)[0]["State"].startswith("CANCELLED")


TIMEOUT_STEERING = (
    SLEEPER
    + """
class Slow(Sleeper):
    slurm_settings = {"time": "0:01:00"}


if __name__ == "__main__":
    b2luigi.set_setting("batch_system", "slurm")
    b2luigi.set_setting("job_name", "{job_name}")
    b2luigi.process(Slow(name="slow", seconds=200), batch=True)
"""
)


@pytest.fixture(scope="module")
def timeout_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workflow, subprocess.Popen[str]] | None]:
    """The TIMEOUT workflow, started early in the background.

    Slurm enforces --time only to the minute and checks it every 30 s, so the job ends 60-90 s after
    it starts. Tests that run before the TIMEOUT test use this fixture too, so the wait overlaps them.
    """
    if (
        shutil.which("sbatch") is None
        or subprocess.run(["bash", CLUSTER_SCRIPT, "status"], capture_output=True).returncode != 0
    ):
        yield None  # the slurm_cluster fixture of each test skips (or fails in CI)
        return
    workflow = new_workflow(tmp_path_factory.mktemp("timeout"))
    workflow.write(TIMEOUT_STEERING)
    process = workflow.start("--batch")
    yield workflow, process
    if process.poll() is None:
        _stop(process)
        subprocess.run(["scancel", "--name", workflow.job_name], check=False)


@pytest.mark.slow
def test_job_over_its_time_limit_is_reported(
    slurm_cluster: None, timeout_run: tuple[Workflow, subprocess.Popen[str]] | None
) -> None:
    """A job killed by Slurm at its --time limit fails with TIMEOUT in the output."""
    assert timeout_run is not None
    workflow, process = timeout_run
    process.wait(timeout=WAIT)
    output = workflow.output()
    assert process.returncode == 1, output
    [job] = workflow.jobs()
    assert job["native_state"] == "TIMEOUT"
    assert f"job {job['job_id']} ended TIMEOUT" in output
    assert "exceeded its time limit" in output
    assert sacct(str(job["job_id"]))[0]["State"] == "TIMEOUT"


RESTARTABLE = """
import logging
import os
import sys
import time
import b2core as b2luigi

RELEASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "release")


class Part(b2luigi.Task):
    n = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("part.txt")

    def run(self):
        deadline = time.time() + 600  # the test releases the parts; this only ends a forgotten job
        while not os.path.exists(RELEASE) and time.time() < deadline:
            time.sleep(0.2)
        with open(self.get_output_file_name("part.txt"), "w") as f:
            f.write(f"{self.n}\\n")


class Whole(b2luigi.Task):
    def requires(self):
        for n in range(12):
            yield Part(n=n)

    def output(self):
        yield self.add_to_output("whole.txt")

    def run(self):
        total = sum(int(open(name).read()) for name in self.get_input_file_names("part.txt"))
        with open(self.get_output_file_name("whole.txt"), "w") as f:
            f.write(f"{total}\\n")


if __name__ == "__main__":
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger("b2core.batch").addHandler(handler)
    logging.getLogger("b2core.batch").setLevel(logging.INFO)
    b2luigi.set_setting("batch_system", "slurm")
    b2luigi.set_setting("job_name", "{job_name}")
    b2luigi.process(Whole(), workers=20, batch=True)
"""
REATTACHED = re.compile(r"^b2core\.batch Re-attached to slurm job (\S+)", re.MULTILINE)


def test_restart_after_sigkill_reattaches(slurm_cluster: None, workflow: Workflow) -> None:
    """SIGKILL the steering process mid-run, start it again: it re-attaches, nothing is submitted twice.

    The parts wait for a release file, so every job is still queued or running when the first
    steering process dies and when the second one starts, however slow the machine is.
    """
    workflow.write(RESTARTABLE)
    first = workflow.start("--batch")
    try:
        wait_for(
            lambda: len([j for j in workflow.jobs() if j["job_id"] and j["state"] in ("queued", "running")]) == 12,
            WAIT,
            "12 submitted jobs in the job store",
        )
        wait_for(
            lambda: [j for j in workflow.jobs() if squeue_state(str(j["job_id"])) == "RUNNING"], WAIT, "a running job"
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        _stop(first)
    before = {str(j["task_id"]): str(j["job_id"]) for j in workflow.jobs()}
    assert len(before) == 12
    assert workflow.calls("sbatch") == 1, "the 12 parts went out as one array"

    second = workflow.start("--batch", log="restart.log")
    try:
        reattached = wait_for(
            lambda: _reattached(workflow, 12), WAIT, "the restarted run to re-attach to all 12 active jobs"
        )
        (workflow.folder / "release").touch()
        second.wait(timeout=WAIT)
    finally:
        _stop(second)
    output = workflow.output("restart.log")
    assert second.returncode == 0, output
    assert int((workflow.folder / "whole.txt").read_text()) == sum(range(12))
    assert sorted(reattached) == sorted(before.values())

    jobs = workflow.jobs()
    parts = [j for j in jobs if j["family"] == "Part"]
    assert len(parts) == 12 and all(j["attempt"] == 1 for j in parts), "no task was submitted a second time"
    assert {str(j["task_id"]): str(j["job_id"]) for j in parts} == before
    assert workflow.calls("sbatch") == 2, "the restarted run submitted only the whole"
    records = sacct(name=workflow.job_name, expect=13)
    assert len(records) == 13, "12 parts + the whole, each exactly once in Slurm's accounting"
    assert len({r["JobID"] for r in records}) == 13
    assert {r["State"] for r in records} == {"COMPLETED"}


def test_steering_killed_between_sbatch_and_bookkeeping_finds_its_jobs(slurm_cluster: None, workflow: Workflow) -> None:
    """sbatch answered but the job ids never reached the job store: the restart finds the jobs, submits nothing."""
    workflow.write(RESTARTABLE)
    marker = workflow.folder / "kill-submitter"
    marker.touch()
    first = workflow.start("--batch", B2CORE_TEST_KILL_SUBMITTER=str(marker))
    try:
        first.wait(timeout=WAIT)
    finally:
        _stop(first)
    assert first.returncode == -signal.SIGKILL, workflow.output()
    lost = workflow.jobs()
    assert len(lost) == 12 and {(j["state"], j["job_id"]) for j in lost} == {("submitting", None)}

    second = workflow.start("--batch", log="restart.log")
    try:
        reattached = wait_for(lambda: _reattached(workflow, 12), WAIT, "the restart to find the 12 lost jobs")
        (workflow.folder / "release").touch()
        second.wait(timeout=WAIT)
    finally:
        _stop(second)
    assert second.returncode == 0, workflow.output("restart.log")
    parts = [j for j in workflow.jobs() if j["family"] == "Part"]
    assert all(j["attempt"] == 1 for j in parts) and sorted(str(j["job_id"]) for j in parts) == sorted(reattached)
    assert workflow.calls("sbatch") == 2, "the lost array and the whole, nothing twice"
    records = sacct(name=workflow.job_name, expect=13)
    assert len({r["JobID"] for r in records}) == 13 and {r["State"] for r in records} == {"COMPLETED"}


def test_auto_detects_slurm(slurm_cluster: None, workflow: Workflow) -> None:
    """batch_system left at its default "auto" picks Slurm here."""
    workflow.write(
        """
        import b2core as b2luigi


        class Plain(b2luigi.Task):
            def output(self):
                yield self.add_to_output("plain.txt")

            def run(self):
                with open(self.get_output_file_name("plain.txt"), "w") as f:
                    f.write("ok\\n")


        if __name__ == "__main__":
            b2luigi.set_setting("job_name", "{job_name}")
            b2luigi.process(Plain(), batch=True)
        """
    )
    result = workflow.run("--batch", timeout=WAIT)
    assert result.returncode == 0, result.stdout
    [job] = workflow.jobs()
    assert job["backend"] == "slurm"
    [record] = sacct(name=workflow.job_name, expect=1)
    assert record["JobID"] == job["job_id"] and record["State"] == "COMPLETED"


def test_failed_job_is_resubmitted_once(slurm_cluster: None, workflow: Workflow) -> None:
    """max_resubmissions=1: a job failing once succeeds on attempt 2; one failing always stops after 2."""
    workflow.write(
        """
        import os
        import b2core as b2luigi


        class Flaky(b2luigi.Task):
            always = b2luigi.BoolParameter()
            max_resubmissions = 1

            def output(self):
                yield self.add_to_output("flaky.txt")

            def run(self):
                marker = f"tried-{self.always}"
                if self.always or not os.path.exists(marker):
                    open(marker, "w").close()
                    print("failing on purpose", flush=True)
                    raise RuntimeError("first attempt fails")
                print("second attempt works", flush=True)
                with open(self.get_output_file_name("flaky.txt"), "w") as f:
                    f.write("ok\\n")


        class Both(b2luigi.WrapperTask):
            def requires(self):
                yield Flaky(always=False)
                yield Flaky(always=True)


        if __name__ == "__main__":
            b2luigi.set_setting("batch_system", "slurm")
            b2luigi.set_setting("job_name", "{job_name}")
            b2luigi.process(Both(), workers=4, batch=True)
        """
    )
    result = workflow.run("--batch", timeout=WAIT)
    assert result.returncode == 1, result.stdout
    assert (workflow.folder / "always=False" / "flaky.txt").read_text() == "ok\n"
    assert not (workflow.folder / "always=True" / "flaky.txt").exists()

    logs = workflow.folder / "logs" / "always=False" / "Flaky"
    assert "failing on purpose" in (logs / "attempt-1" / "stdout").read_text()
    assert "first attempt fails" in (logs / "attempt-1" / "stderr").read_text()
    assert "second attempt works" in (logs / "stdout").read_text()

    by_task: dict[str, list[dict[str, object]]] = {}
    for job in workflow.jobs():
        by_task.setdefault(str(job["task_id"]), []).append(job)
    assert sorted(len(attempts) for attempts in by_task.values()) == [2, 2]
    states = sorted(tuple(str(j["state"]) for j in attempts) for attempts in by_task.values())
    assert states == [("failed", "failed"), ("failed", "succeeded")]
    assert "(attempt 2)" in result.stdout
    records = {r["JobID"]: r for r in sacct(name=workflow.job_name, expect=4)}
    assert len(records) == 4
    for attempts in by_task.values():
        assert records[str(attempts[0]["job_id"])]["State"] == "FAILED"
        assert records[str(attempts[0]["job_id"])]["ExitCode"] != "0:0"


def _reattached(workflow: Workflow, count: int) -> list[str] | None:
    """The job ids the restarted run logged as re-attached, once there are `count` of them."""
    found = REATTACHED.findall(workflow.output("restart.log"))
    return found if len(found) >= count else None


def _job_id(workflow: Workflow) -> str | None:
    jobs = workflow.jobs()
    return str(jobs[0]["job_id"]) if jobs and jobs[0]["job_id"] else None


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill a steering process a failed test left behind (it is our own child)."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
