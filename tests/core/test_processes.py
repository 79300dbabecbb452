"""SIGTERM is Ctrl-C; forked local workers die with the steering process."""

from __future__ import annotations

import os
import signal


def test_sigterm_in_batch_mode_cancels_the_jobs_like_ctrl_c(local_flow, wait) -> None:
    """SIGTERM: the run's jobs are cancelled with the same message as Ctrl-C, exit 143, nothing left running."""
    process = local_flow.flow.start(env=local_flow.env(SLEEP="60"))
    wait(lambda: len(local_flow.started()) == 3, what="three writer jobs to start")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143, local_flow.flow.log()
    assert "Interrupted: cancelled 3 batch job(s)" in local_flow.flow.log(), local_flow.flow.log()
    assert "b2core: terminated (SIGTERM)" in local_flow.flow.log()
    wait(lambda: not local_flow.alive(), what="the cancelled jobs to end")
    assert local_flow.values() == {}


def test_forked_local_workers_die_with_a_killed_steering_process(local_flow, wait) -> None:
    """SIGKILL of the steering process of a local multi-worker run: its forked workers stop writing at once."""
    process = local_flow.flow.start(env=local_flow.env(SLEEP="60", NO_BATCH="1"))
    wait(lambda: len(local_flow.started()) == 3, what="three forked workers to run")
    assert all(pid != process.pid for _, pid in local_flow.started())
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    wait(lambda: not local_flow.alive(), timeout=15, what="the forked workers to die with their parent")
