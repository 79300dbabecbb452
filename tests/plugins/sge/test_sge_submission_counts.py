"""1,000 runnable tasks on the SGE backend: at most 10 qsub calls and one qstat per poll interval.

Counts only, no timings: the batch engine runs with a fake clock (so "per poll interval" is exact) and the
real SGEBackend talks to a fake cell that answers in the formats recorded from the real one
(recorded/README.md). The conformance kit's many-jobs scenario checks the counts on the real cell.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import b2core
from b2core.batch.backend import JobState
from b2core.batch.commands import CommandRunner
from b2core.batch.engine import BatchEngine
from b2core.batch.jobstore import JobStore
from b2core.plugins import backend_class
from b2core.settings import get_setting
from b2core.testing import FakeClock

TASKS = 1_000
MAX_QSUB = 10
QSTAT_ENTRY = (
    "<job_list state='{kind}'><JB_job_number>{job}</JB_job_number><JB_name>n</JB_name>"
    "<state>{state}</state><tasks>{tasks}</tasks></job_list>"
)
QACCT_RECORD = "=" * 62 + "\njobnumber    {job}\ntaskid       {index}\nfailed       0    \nexit_status  0\n"


class Counted(b2core.Task):
    """A task that is only ever handed to the engine, never run."""

    number = b2core.IntParameter()

    def output(self):
        yield self.add_to_output("out.txt")


class FakeCell(CommandRunner):
    """qsub/qstat/qacct of a cell whose array tasks queue for a while, run, then end well."""

    def __init__(self, clock: FakeClock, runtime: float) -> None:
        super().__init__()
        self.clock, self.runtime = clock, runtime
        self.arrays: dict[int, tuple[float, int]] = {}
        self.log: list[tuple[float, str]] = []

    def run(self, argv: Sequence[Any], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Answer one command the way the real cell does."""
        argv = [str(a) for a in argv]
        self.calls[argv[0]] += 1
        self.log.append((self.clock.now, argv[0]))
        if argv[0] == "qsub":
            count = int(re.fullmatch(r"1-(\d+)", argv[argv.index("-t") + 1]).group(1))
            job = len(self.arrays) + 1
            self.arrays[job] = (self.clock.now, count)
            return subprocess.CompletedProcess(argv, 0, f"{job}.1-{count}:1\n", "")
        if argv[0] == "qstat":
            entries = [
                QSTAT_ENTRY.format(
                    kind="pending" if age < self.runtime / 2 else "running",
                    job=job,
                    tasks=f"1-{n}:1",
                    state="qw" if age < self.runtime / 2 else "r",
                )
                for job, (start, n) in self.arrays.items()
                if (age := self.clock.now - start) < self.runtime
            ]
            return subprocess.CompletedProcess(
                argv, 0, f"<job_info><job_info>{''.join(entries)}</job_info></job_info>", ""
            )
        if argv[0] == "qacct":
            job = int(argv[-1])
            records = "".join(QACCT_RECORD.format(job=job, index=i) for i in range(1, self.arrays[job][1] + 1))
            return subprocess.CompletedProcess(argv, 0, records, "")
        raise AssertionError(f"unexpected command {argv}")


def test_1000_tasks_use_few_qsub_and_one_qstat_per_poll_interval(tmp_path: Path) -> None:
    """luigi's worker hands the engine one task at a time (ticking in between); the engine still gathers them."""
    for key in ("result_dir", "log_dir", "task_file_dir"):
        b2core.set_setting(key, str(tmp_path / key))
    clock = FakeClock()
    cell = FakeCell(clock, runtime=12.0)
    engine = BatchEngine(JobStore(tmp_path / "jobs.sqlite"), clock=clock)
    engine.backends["sge"] = backend_class("sge")(cell)
    try:
        jobs = []
        for number in range(TASKS):
            jobs.append(engine.start(Counted(number=number), "sge"))
            clock.now += 0.002  # the worker's own work between two tasks
            engine.tick()
        while any(job.final is None for job in jobs):
            clock.now += 0.01
            engine.tick()
            assert clock.now < 120, "jobs never finished"
    finally:
        engine.close()

    assert {job.final.state for job in jobs} == {JobState.SUCCEEDED}
    assert sum(n for _, n in cell.arrays.values()) == TASKS
    assert cell.calls["qsub"] <= MAX_QSUB, cell.arrays
    interval = get_setting("poll_interval")
    polls = [t for t, tool in cell.log if tool == "qstat"]
    assert all(later - earlier >= interval for earlier, later in itertools.pairwise(polls)), polls
    assert len(polls) <= (polls[-1] - polls[0]) // interval + 1
    assert cell.calls["qacct"] <= cell.calls["qsub"], "one qacct per finished array job, not per task"
