"""Restart safety: a killed steering process re-attaches to its jobs; Ctrl-C cancels them, or leaves them for later."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path


def submitted_job_ids(workflow) -> list[str]:
    """Job ids the job store holds (read-only, while the steering process may be writing)."""
    path = workflow.path / "logs" / ".b2core" / "jobs.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return [row[0] for row in db.execute("SELECT job_id FROM jobs WHERE job_id IS NOT NULL")]
    except sqlite3.Error:
        return []


def outputs(workflow) -> dict[str, str]:
    """Output values of the cheap tasks, by folder."""
    return {p.parent.name: p.read_text().strip() for p in workflow.path.glob("number=*/out.txt")}


def test_steering_killed_and_restarted_reattaches_without_duplicates(cheap, queue, wait) -> None:
    """SIGKILL after submission, restart: no job is submitted twice, jobs that ended meanwhile count, all results."""
    env = {"COUNT": "6", "DELAY": "4", "DELAY_EVEN": "0.5"}
    first = cheap.start(env=env)
    wait(lambda: len(submitted_job_ids(cheap)) == 6, what="all six jobs in the job store")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    wait(lambda: sum(queue.state(j["id"]) == "EXITED" for j in queue.jobs()) >= 3, what="the quick jobs to end")
    assert any(queue.state(j["id"]) == "RUNNING" for j in queue.jobs()), "restart must find jobs still running"
    run = cheap.run(env=env)
    assert run.returncode == 0, run
    assert sorted(queue.submissions_per_task().values()) == [1] * 6, queue.jobs()
    assert outputs(cheap) == {f"number={n}": str(n) for n in range(6)}


def test_ctrl_c_cancels_every_job_of_the_run_and_says_how_many(cheap, queue, wait) -> None:
    """SIGINT: one excancel for all jobs, a message with the count, nothing left running."""
    process = cheap.start(env={"COUNT": "4", "DELAY": "60"})
    wait(lambda: len(submitted_job_ids(cheap)) == 4, what="four submitted jobs")
    wait(lambda: all(queue.state(j["id"]) == "RUNNING" for j in queue.jobs()), what="the jobs to run")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) != 0, cheap.log()
    assert "cancelled 4 batch job(s)" in cheap.log(), cheap.log()
    cancels = queue.calls("excancel")
    assert [c["n_ids"] for c in cancels] == [4], cancels
    assert {queue.state(j["id"]) for j in queue.jobs()} == {"CANCELLED"}
    time.sleep(0.3)
    assert all(queue.state(j["id"]) != "RUNNING" for j in queue.jobs())


def test_ctrl_c_can_leave_jobs_running_for_a_later_reattach(cheap, queue, wait, tmp_path: Path) -> None:
    """cancel_jobs_on_interrupt=false: jobs keep running, the restart re-attaches instead of resubmitting."""
    env = {"COUNT": "3", "DELAY": "3", "DELAY_EVEN": "3", "B2CORE_CANCEL_JOBS_ON_INTERRUPT": "false"}
    process = cheap.start(env=env)
    wait(lambda: len(submitted_job_ids(cheap)) == 3, what="three submitted jobs")
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    assert "leaving 3 job(s) running" in cheap.log(), cheap.log()
    assert queue.calls("excancel") == []
    # left alone: still queued or running, or (on a slow machine) already done, never cancelled
    assert {queue.state(j["id"]) for j in queue.jobs()} <= {"PENDING", "RUNNING", "EXITED"}
    run = cheap.run(env=env)
    assert run.returncode == 0, run
    assert sorted(queue.submissions_per_task().values()) == [1, 1, 1]
    assert outputs(cheap) == {f"number={n}": str(n) for n in range(3)}


def test_steering_killed_between_submission_and_bookkeeping_does_not_resubmit(cheap, queue, wait) -> None:
    """exsub kills its caller right after printing the ids; the restart must still not submit twice."""
    (queue.folder / "kill_submitter").write_text("")
    env = {"COUNT": "2", "DELAY": "2", "DELAY_EVEN": "2"}
    first = cheap.start(env=env)
    assert first.wait(timeout=60) == -signal.SIGKILL, cheap.log()
    assert len(queue.jobs()) == 2
    run = cheap.run(env=env)
    assert run.returncode == 0, run
    assert outputs(cheap) == {"number=0": "0", "number=1": "1"}
    assert sorted(queue.submissions_per_task().values()) == [1, 1], queue.jobs()
