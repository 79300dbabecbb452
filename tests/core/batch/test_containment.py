"""One broken task or job record fails that task only; the rest of the run goes on."""

from __future__ import annotations


def test_complete_raising_after_the_job_succeeded_fails_only_that_task(local_flow) -> None:
    """complete() of one writer raises once its job is done: that task fails with the exception, the others finish."""
    run = local_flow.flow.run("--batch", env=local_flow.env(BREAK="1"))
    assert run.returncode == 1, run
    assert "Interrupted" not in run.output, run
    assert "Writer_1_" in run.stderr or "Writer(number=1)" in run.stderr, run
    assert "complete() of writer 1 is broken" in run.stderr, run
    assert set(local_flow.values()) == {0, 1, 2}
    assert local_flow.runs_per_task() == {0: 1, 1: 1, 2: 1}


def test_a_malformed_job_record_fails_its_task_and_later_restarts_go_on(local_flow, wait) -> None:
    """A job id nobody can parse: the status query and the cancel of the others survive it; the next run finishes."""
    env = local_flow.env(SLEEP="25", SLEEP_0="45")  # all still running when the restart looks
    local_flow.start_and_kill(env)
    local_flow.sql("UPDATE jobs SET job_id = 'not a job id' WHERE task_id LIKE 'Writer_0_%'")
    assert 0 not in local_flow.values(), "the writer must still run when the restart looks at its record"
    run = local_flow.flow.run(env=env)
    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr, run
    assert (
        "the status query of job 'not a job id' fails: ValueError: 'not a job id' is not a local job id" in run.stderr
    ), run
    assert {1, 2} <= set(local_flow.values())
    again = local_flow.flow.run(env=env)
    assert again.returncode == 0, again
    assert local_flow.runs_per_task() == {0: 1, 1: 1, 2: 1}, again
    assert local_flow.total() == sum(local_flow.values().values())
