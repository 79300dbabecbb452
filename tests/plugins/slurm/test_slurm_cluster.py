"""End-to-end tests against the real local Slurm cluster (scripts/slurm-cluster.sh).

Each test writes a steering script and runs it the way a user does (`python steering.py --batch`),
then checks results, logs, the job store and Slurm's own accounting.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_testkit import Workflow, new_workflow, sacct, squeue_state

CLUSTER_SCRIPT = str(Path(__file__).resolve().parents[3] / "scripts" / "slurm-cluster.sh")

pytestmark = pytest.mark.slurm

# Upper bounds for waits and runs. They only stop a hanging test: on a cluster shared with other
# runs, jobs may wait minutes for a free CPU, and nothing here measures speed.
WAIT = 300


@pytest.mark.usefixtures("timeout_run")  # starts the 60-90 s TIMEOUT job now, to overlap
def test_export_none_with_env_script(slurm_cluster: None, workflow: Workflow) -> None:
    """--export=NONE keeps the submitter's variables out of the job; env_script puts its own in.

    B2CORE_* settings variables still reach the job (the submit script exports them).
    """
    (workflow.folder / "setup_env.sh").write_text("export B2T_FROM_ENV_SCRIPT=sourced\n")
    script = workflow.write(
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
    workflow.extra_env.update(B2T_LEAK="leaked", B2CORE_RESULT_DIR="results")
    result = workflow.run(script, timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (workflow.folder / "results" / "env.txt").read_text() == "sourced -"
    [record] = sacct(name=workflow.job_name, expect=1)
    assert record["State"] == "COMPLETED"
    script = (workflow.folder / "task_files" / "EnvTask" / "slurm_parameters.sh").read_text()
    assert f"#SBATCH --job-name={workflow.job_name}" in script


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


@pytest.mark.usefixtures("timeout_run")  # starts the 60-90 s TIMEOUT job now, to overlap
def test_job_cancelled_from_outside_is_reported(slurm_cluster: None, workflow: Workflow) -> None:
    """scancel by someone else: the task fails and the output names CANCELLED and who cancelled it."""
    script = workflow.write(
        SLEEPER
        + """
if __name__ == "__main__":
    b2luigi.set_setting("batch_system", "slurm")
    b2luigi.set_setting("job_name", "{job_name}")
    b2luigi.process(Sleeper(name="victim", seconds=120), batch=True)
"""
    )
    process = workflow.start(script)
    job_id = workflow.wait_for(lambda: _job_id(workflow), WAIT, "the job to be submitted")
    workflow.wait_for(lambda: squeue_state(job_id) == "RUNNING", WAIT, f"job {job_id} to run")
    subprocess.run(["scancel", job_id], check=True)
    output = "".join(process.communicate(timeout=WAIT))
    assert process.returncode == 1, output
    assert f"job {job_id} ended CANCELLED" in output
    assert "cancelled by user id 0" in output or "killed by signal 15" in output
    [job] = workflow.job_store()
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
    process = workflow.start(workflow.write(TIMEOUT_STEERING))
    yield workflow, process
    workflow.cleanup()


@pytest.mark.slow
def test_job_over_its_time_limit_is_reported(
    slurm_cluster: None, timeout_run: tuple[Workflow, subprocess.Popen[str]] | None
) -> None:
    """A job killed by Slurm at its --time limit fails with TIMEOUT in the output."""
    assert timeout_run is not None
    workflow, process = timeout_run
    output = "".join(process.communicate(timeout=WAIT))
    assert process.returncode == 1, output
    [job] = workflow.job_store()
    assert job["native_state"] == "TIMEOUT"
    assert f"job {job['job_id']} ended TIMEOUT" in output
    assert "exceeded its time limit" in output
    assert sacct(str(job["job_id"]))[0]["State"] == "TIMEOUT"


def test_auto_detects_slurm(slurm_cluster: None, workflow: Workflow) -> None:
    """batch_system left at its default "auto" picks Slurm here."""
    script = workflow.write(
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
    result = workflow.run(script, timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    [job] = workflow.job_store()
    assert job["backend"] == "slurm"
    [record] = sacct(name=workflow.job_name, expect=1)
    assert record["JobID"] == job["job_id"] and record["State"] == "COMPLETED"


def _job_id(workflow: Workflow) -> str | None:
    jobs = workflow.job_store()
    return str(jobs[0]["job_id"]) if jobs and jobs[0]["job_id"] else None
