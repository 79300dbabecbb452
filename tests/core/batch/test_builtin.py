"""The backends inside the core: `local` (each task a child process through the wrapper) and `test`."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

STEERING = """
import os
import time
import b2core as b2luigi

class Writer(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("data.txt")

    def run(self):
        print(f"writer {self.number} running")
        with open(self.get_output_file_name("data.txt"), "w") as f:
            f.write("first half;")
            f.flush()
            if os.environ.get("HANG"):
                with open(os.environ["HANG"], "w") as marker:
                    marker.write(str(os.getpid()))
                time.sleep(60)
            f.write("second half")

class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range(int(os.environ.get("COUNT", "2"))):
            yield Writer(number=number)

if __name__ == "__main__":
    b2luigi.process(All(), workers=2, batch=True)
"""


@pytest.mark.parametrize("backend", ["local", "test"])
def test_batch_mode_on_builtin_backends_writes_results_and_logs(workflow, backend: str) -> None:
    """Each task runs as its own process through the wrapper; logs in <log_dir>/<params>/<Family>/."""
    workflow.write(STEERING)
    run = workflow.run(env={"B2CORE_BATCH_SYSTEM": backend})
    assert run.returncode == 0, run
    for number in range(2):
        assert (workflow.path / f"number={number}" / "data.txt").read_text() == "first half;second half"
        log = workflow.path / "logs" / f"number={number}" / "Writer"
        assert f"writer {number} running" in (log / "stdout").read_text()
        assert (log / "stderr").exists()
        assert (workflow.path / "task_files" / f"number={number}" / "Writer" / "executable_wrapper.sh").exists()


def test_job_killed_while_writing_leaves_no_final_file(workflow, tmp_path: Path, wait) -> None:
    """SIGKILL in the middle of writing: the task fails, no file under the final name; a rerun completes it."""
    workflow.write(STEERING)
    marker = tmp_path / "hanging.pid"
    env = {"B2CORE_BATCH_SYSTEM": "local", "COUNT": "1"}
    process = workflow.start(env={**env, "HANG": str(marker)})
    pid = int(wait(lambda: marker.exists() and marker.read_text(), what="the job to start writing"))
    assert pid != process.pid
    os.kill(pid, signal.SIGKILL)
    assert process.wait(timeout=60) == 1, workflow.log()
    final = workflow.path / "number=0" / "data.txt"
    assert not final.exists()
    leftovers = [p.name for p in final.parent.iterdir()] if final.parent.exists() else []
    assert all(name != "data.txt" and name.endswith(".txt") for name in leftovers), leftovers
    dry = workflow.run("--dry-run", env=env)
    assert dry.returncode == 1 and "Would run Writer(number=0)" in dry.stdout, dry
    run = workflow.run(env=env)
    assert run.returncode == 0, run
    assert final.read_text() == "first half;second half"


def test_auto_without_any_batch_system_falls_back_to_local_only_when_allowed(workflow, no_batch_commands) -> None:
    """batch_system=auto with nothing detected: loud failure, or a local run with auto_fallback_to_local."""
    workflow.write(STEERING)
    env = {"PATH": no_batch_commands}
    run = workflow.run(env=env)
    assert run.returncode != 0, run
    assert "found no usable batch system" in run.output, run
    assert not list(workflow.path.glob("number=*/data.txt"))
    run = workflow.run(env={**env, "B2CORE_AUTO_FALLBACK_TO_LOCAL": "true"})
    assert run.returncode == 0, run
    assert len(list(workflow.path.glob("number=*/data.txt"))) == 2


def test_a_job_ending_during_the_status_query_is_not_reported_killed(tmp_path: Path, monkeypatch) -> None:
    """The job writes its exit code and exits just as it is looked at: that is success, not a kill."""
    from b2core.batch import builtin

    exit_file = tmp_path / builtin.EXIT_CODE_FILE

    def finishes_while_asked(pid: int, started: int | None) -> bool:
        exit_file.write_text("0\n")
        return False

    monkeypatch.setattr(builtin, "is_running", finishes_while_asked)
    job_id = f"999999:1:{tmp_path}"
    [status] = builtin.LocalBackend().query([job_id]).values()
    assert (status.state, status.exit_code) == (builtin.JobState.SUCCEEDED, 0)


def test_restart_after_a_crash_while_submitting_finds_the_started_jobs(local_flow, wait) -> None:
    """Killed between starting local jobs and recording their ids: the restart finds them, runs nothing twice."""
    env = local_flow.env(SLEEP="20")  # still running when the restart looks
    local_flow.start_and_kill(env)
    # what a crash inside submit() leaves: the submissions recorded, their answer not
    local_flow.sql("UPDATE jobs SET state = 'submitting', job_id = NULL WHERE task_id LIKE 'Writer%'")
    run = local_flow.flow.run(env=env)
    assert run.returncode == 0, run
    assert local_flow.runs_per_task() == {0: 1, 1: 1, 2: 1}, run
    assert local_flow.total() == sum(local_flow.values().values())


def test_deleted_job_store_while_jobs_run_neither_duplicates_nor_reads_old_exit_codes(local_flow, wait) -> None:
    """The restart adopts the jobs still running instead of starting them again, so the sum matches its inputs."""
    env = local_flow.env(SLEEP="20")  # still running when the restart looks
    local_flow.start_and_kill(env)
    for path in local_flow.store().parent.glob("jobs.sqlite*"):
        path.unlink()
    run = local_flow.flow.run(env=env)
    assert run.returncode == 0, run
    wait(lambda: not local_flow.alive(), what="every writer job to end")
    assert local_flow.runs_per_task() == {0: 1, 1: 1, 2: 1}, run
    assert local_flow.total() == sum(local_flow.values().values())


def test_a_recorded_pid_now_used_by_another_process_is_not_mistaken_for_the_job(local_flow, wait) -> None:
    """Jobs killed with the steering process, their pids taken by an unrelated process: the restart reruns them."""
    env = local_flow.env(SLEEP="60")
    local_flow.start_and_kill(env)
    local_flow.kill_jobs()
    unrelated = subprocess.Popen(["sleep", "300"])
    try:
        local_flow.sql(
            "UPDATE jobs SET job_id = ? || substr(job_id, instr(job_id, ':')) WHERE task_id LIKE 'Writer%'",
            str(unrelated.pid),
        )
        run = local_flow.flow.run(env=local_flow.env(SLEEP="0"), timeout=120)
    finally:
        unrelated.kill()
        unrelated.wait()
    assert run.returncode == 0, run
    assert local_flow.runs_per_task() == {0: 2, 1: 2, 2: 2}, run
    assert local_flow.total() == sum(local_flow.values().values())
