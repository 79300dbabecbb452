"""Jobs that ended while no steering process watched: records settled, lost jobs submitted again."""

from __future__ import annotations

import sys


def test_records_of_jobs_that_ended_unwatched_are_settled_by_the_next_run(local_flow, wait) -> None:
    """Steering killed, its jobs end meanwhile: after the next run `b2core status` shows none of them running."""
    env = local_flow.env(SLEEP="1")
    local_flow.start_and_kill(env)
    wait(lambda: len(local_flow.values()) == 3 and not local_flow.alive(), what="the writer jobs to end")
    status = [sys.executable, "-m", "b2core.cli.main", "status", "--log-dir", "logs"]
    before = local_flow.flow.command(status)
    assert "running: 3" in before.stdout, before
    run = local_flow.flow.run(env=env)
    assert run.returncode == 0, run
    after = local_flow.flow.command(status)
    assert after.returncode == 0, after
    assert "running" not in after.stdout and "succeeded: 4" in after.stdout, after


def test_a_job_lost_while_unwatched_is_submitted_again_not_failed(local_flow, wait) -> None:
    """Steering and jobs killed together (a reboot): the restart finds the jobs gone without exit code, reruns them."""
    env = local_flow.env(SLEEP="60")
    local_flow.start_and_kill(env)
    local_flow.kill_jobs()
    run = local_flow.flow.run(env=local_flow.env(SLEEP="0"))
    assert run.returncode == 0, run
    assert "without an exit code; submitting again" in run.stderr, run
    assert local_flow.runs_per_task() == {0: 2, 1: 2, 2: 2}
    assert local_flow.total() == sum(local_flow.values().values())


def test_a_job_lost_again_after_its_free_resubmission_fails_the_task(local_flow, wait) -> None:
    """max_resubmissions = 0: the first job lost unwatched is submitted again; when that one is lost too (steering
    and jobs killed twice), the next restart fails the writers instead of submitting them a third time."""
    env = local_flow.env(SLEEP="60")
    local_flow.start_and_kill(env)
    local_flow.kill_jobs()
    second = local_flow.flow.start(env=env)
    wait(lambda: len(local_flow.started()) == 6, what="the writers' second jobs to start")
    second.kill()
    second.wait(timeout=30)
    local_flow.kill_jobs()
    run = local_flow.flow.run(env=local_flow.env(SLEEP="0"))
    assert run.returncode == 1, run
    assert run.stderr.count("without an exit code; not again: 2 attempt(s) are used up") == 3, run
    assert local_flow.runs_per_task() == {0: 2, 1: 2, 2: 2}
    assert local_flow.total() is None
