"""worker_timeout in batch mode: jobs timing out together are cancelled together, like on Ctrl-C."""

from __future__ import annotations


def test_jobs_timing_out_together_are_cancelled_with_one_command(cheap, queue) -> None:
    """Three jobs of one submission hit their worker_timeout: one excancel for all three, each task fails."""
    run = cheap.run(env={"COUNT": "3", "DELAY": "60", "TIMEOUT": "1.5", "B2CORE_SUBMIT_INTERVAL": "1"})
    assert run.returncode == 1, run
    assert len(queue.calls("exsub")) == 1, "the premise: the three jobs went out in one submission"
    assert [c["n_ids"] for c in queue.calls("excancel")] == [3], queue.calls("excancel")
    assert {queue.state(job["id"]) for job in queue.jobs()} == {"CANCELLED"}
    assert run.output.count("timed out after 1.5 seconds") >= 3, run
