"""1,000 runnable tasks on one backend: at most 10 submit commands, one status command per poll interval.

Counts only, no timings: the engine test drives the batch engine with a fake clock (so "per poll interval"
is exact), the end-to-end test counts the example backend's real exsub/exstat invocations.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import b2core
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.engine import BatchEngine
from b2core.batch.jobstore import JobStore
from b2core.settings import get_setting
from b2core.testing import FakeClock

TASKS = 1_000
MAX_SUBMITS = 10


class SubmissionCountTask(b2core.Task):
    """A task that is only ever handed to the engine, never run."""

    number = b2core.IntParameter()

    def output(self):
        yield self.add_to_output("out.txt")


class CountingBackend(BatchBackend):
    """Records every submit and query call (each is one batch command on a real backend)."""

    name = "counting"

    def __init__(self, clock: FakeClock, runtime: float) -> None:
        super().__init__()
        self.clock = clock
        self.runtime = runtime
        self.submits: list[int] = []
        self.queries: list[tuple[float, int]] = []
        self.started: dict[str, float] = {}

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        self.submits.append(len(specs))
        ids = [f"job{len(self.started) + i}" for i in range(len(specs))]
        self.started.update(dict.fromkeys(ids, self.clock.now))
        return ids

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        self.queries.append((self.clock.now, len(job_ids)))
        done = {i for i in job_ids if self.clock.now - self.started[i] >= self.runtime}
        return {i: JobStatus(JobState.SUCCEEDED if i in done else JobState.RUNNING) for i in job_ids}

    def cancel(self, job_ids: Sequence[str]) -> None:
        raise AssertionError("nothing is cancelled in this test")


def test_engine_submits_1000_runnable_tasks_in_few_commands_and_polls_once_per_interval(tmp_path: Path) -> None:
    """luigi's worker hands the engine one task at a time (ticking in between); the engine still gathers them."""
    clock = FakeClock()
    backend = CountingBackend(clock, runtime=12.0)
    engine = BatchEngine(JobStore(tmp_path / "jobs.sqlite"), clock=clock)
    engine.backends[backend.name] = backend
    try:
        jobs = []
        for number in range(TASKS):
            jobs.append(engine.start(SubmissionCountTask(number=number), backend.name))
            clock.now += 0.002  # the worker's own work between two tasks
            engine.tick()
        while any(job.final is None for job in jobs):
            clock.now += 0.01
            engine.tick()
            assert clock.now < 120, "jobs never finished"
    finally:
        engine.close()

    assert sum(backend.submits) == TASKS and len(backend.started) == TASKS
    assert len(backend.submits) <= MAX_SUBMITS, backend.submits
    assert {job.final.state for job in jobs} == {JobState.SUCCEEDED}
    interval = get_setting("poll_interval")
    times = [t for t, _ in backend.queries]
    assert all(later - earlier >= interval for earlier, later in itertools.pairwise(times)), times
    span = times[-1] - times[0]
    assert len(times) <= span // interval + 1, times
    assert max(n for _, n in backend.queries) == TASKS  # one command asks about every job in flight


def test_1000_tasks_on_the_example_backend_use_few_exsub_and_one_exstat_per_poll(cheap, queue) -> None:
    """End to end through the worker: 1,000 runnable tasks, workers=1000, the example batch system's commands.

    Only counts: how often per interval exstat runs is checked with the fake clock above, since the logged
    times of real commands depend on how busy the machine is.
    """
    run = cheap.run(env={"COUNT": str(TASKS), "DELAY": "5", "B2CORE_POLL_INTERVAL": "1"}, timeout=900)
    assert run.returncode == 0, run
    assert len(list(cheap.path.glob("number=*/out.txt"))) == TASKS
    submits = queue.calls("exsub")
    assert sum(c["n_ids"] for c in submits) == TASKS
    assert len(submits) <= MAX_SUBMITS, [c["n_ids"] for c in submits]
    assert set(queue.submissions_per_task().values()) == {1}
    sizes = [c["n_ids"] for c in queue.calls("exstat") if c["n_ids"] > 0]
    assert sizes, run
    assert max(sizes) >= TASKS * 0.9, sizes  # every job in flight in one command
    # never one command per job; how many polls a run takes depends on how long it lasts on this machine
    assert len(sizes) < TASKS, sizes
