"""Asking for work stays O(1) per call however many tasks are in flight (worker and scheduler side)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import luigi
from b2core.scheduling import LinearScheduler, WorkerSchedulerFactory
from luigi.execution_summary import LuigiStatusCode

IN_FLIGHT = 12


class InFlightTask(luigi.Task):
    """Waits until all its siblings run, so that IN_FLIGHT tasks are running at once."""

    root = luigi.Parameter()
    i = luigi.IntParameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(f"{self.root}/{self.i}.done")

    def run(self) -> None:
        Path(self.root, f"{self.i}.started").touch()
        deadline = time.monotonic() + 300  # never hang the suite; the test then fails on the outputs
        while len(list(Path(self.root).glob("*.started"))) < IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.02)
        with self.output().open("w") as out:
            out.write("ok")


class CountingScheduler(LinearScheduler):
    """Counts the running-task ids a worker copies into its requests and the entries sent back."""

    ids_sent = 0
    entries_sent = 0

    def get_work(self, *args: Any, current_tasks: Any = None, **kwargs: Any) -> dict[str, Any]:
        if isinstance(current_tasks, list):
            self.ids_sent += len(current_tasks)
        reply = super().get_work(*args, current_tasks=current_tasks, **kwargs)
        self.entries_sent += len(reply["running_tasks"])
        return reply


class CountingFactory(WorkerSchedulerFactory):
    def create_local_scheduler(self) -> CountingScheduler:
        self.scheduler = CountingScheduler()
        return self.scheduler


def test_many_tasks_in_flight_send_and_keep_no_running_task_lists(tmp_path: Path) -> None:
    """luigi sends all running ids on every get_work and keeps every reply's running tasks: O(n^2)."""
    factory = CountingFactory()
    result = luigi.build(
        [InFlightTask(root=str(tmp_path), i=i) for i in range(IN_FLIGHT)],
        worker_scheduler_factory=factory,
        workers=IN_FLIGHT,
        local_scheduler=True,
        log_level="WARNING",
        detailed_summary=True,
    )
    assert result.status == LuigiStatusCode.SUCCESS
    assert len(list(tmp_path.glob("*.done"))) == IN_FLIGHT
    assert factory.scheduler.ids_sent == 0
    assert factory.scheduler.entries_sent == 0
    kept = sum(len(reply["running_tasks"]) for reply in result.worker._get_work_response_history)
    assert kept == 0


def _add(s: LinearScheduler, worker: str, task_id: str) -> None:
    s.add_task(worker=worker, task_id=task_id, status="PENDING", runnable=True, family="T")


def test_reply_lists_tasks_other_workers_run() -> None:
    """What luigi's summary ("being run by other workers") and keep-alive read is still there."""
    s = LinearScheduler()
    for worker in ("w1", "w2"):
        _add(s, worker, "a")
    assert s.get_work(worker="w1", current_tasks=[])["task_id"] == "a"
    reply = s.get_work(worker="w2", current_tasks=[])
    assert reply["task_id"] is None
    assert [(r["task_id"], r["worker"]) for r in reply["running_tasks"]] == [("a", "w1")]
    assert s.count_pending("w2")["running_tasks"] == reply["running_tasks"]
    assert s.get_work(worker="w1", current_tasks=["a"])["running_tasks"] == []
    s.add_task(worker="w1", task_id="a", status="DONE", runnable=None, new_deps=[])
    assert s.get_work(worker="w2", current_tasks=[])["running_tasks"] == []


def test_task_whose_hand_out_the_worker_missed_is_handed_back() -> None:
    """luigi's rule: a task the scheduler thinks the worker runs, not in its current tasks, comes back."""
    s = LinearScheduler()
    for task_id in ("a", "b"):
        _add(s, "w", task_id)
    assert s.get_work(worker="w", current_tasks=[])["task_id"] == "a"
    assert s.get_work(worker="w", current_tasks=[])["task_id"] == "a"  # the worker did not list it
    assert s.get_work(worker="w", current_tasks={"a"})["task_id"] == "b"
    assert s.get_work(worker="w", current_tasks={"a", "b"})["task_id"] is None
    assert s.get_work(worker="w", current_tasks={"a", "b"})["task_id"] is None
