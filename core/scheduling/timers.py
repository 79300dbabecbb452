"""Timed transitions (retries, end of a disable), dead workers and removal of forgotten tasks."""

from __future__ import annotations

import heapq
import logging
import time

from b2core.scheduling.records import SchedTask
from luigi.task_status import DISABLED, DONE, FAILED, PENDING, RUNNING

logger = logging.getLogger(__name__)
# how often (seconds) get_work does a full O(N) sweep for task removal; everything time-critical
# (retries, re-enabling, dead workers) is handled by timers and does not wait for this
_FULL_PRUNE_INTERVAL = 60.0


class Timers:
    """Mixin of LinearScheduler: a heap of timers instead of luigi's sweep over all tasks on every call."""

    def _push_timer(self, due: float, kind: str, task: SchedTask) -> None:
        """Fire kind ("retry" or "enable") for the task at time due."""
        heapq.heappush(self._timers, (due, next(self._push), kind, task))

    def _tick(self, now: float) -> None:
        """Fire due timers and drop dead workers; O(log N) per fired timer."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, kind, task = heapq.heappop(timers)
            if self._tasks.get(task.id) is not task:
                continue
            if kind == "retry":
                if (
                    task.status == FAILED
                    and self._config.retry_delay >= 0
                    and task.retry is not None
                    and task.retry <= now
                ):
                    self._set_status(task, PENDING)
            elif (
                task.status == DISABLED
                and task.scheduler_disable_time is not None
                and now - task.scheduler_disable_time >= self._config.disable_persist
            ):
                self._re_enable(task, to_failed=True)
        dead = [
            w.id for w in list(self._workers.values()) if w.last_active + self._config.worker_disconnect_delay < now
        ]
        if dead or now - self._last_full_prune > _FULL_PRUNE_INTERVAL:
            self._full_prune(dead, now)

    def _full_prune(self, dead_workers: list[str], now: float) -> None:
        """luigi's prune: forget dead workers, fail their running tasks, remove orphaned tasks."""
        self._last_full_prune = now
        dead = set(dead_workers)
        for wid in dead:
            logger.debug("Worker %s timed out (no contact for >=%ss)", wid, self._config.worker_disconnect_delay)
            self._workers.pop(wid, None)
            self._handed_out.pop(wid, None)
        assistants = {w.id for w in self._workers.values() if w.assistant}
        remove = []
        for task in list(self._tasks.values()):
            if dead:
                if any(w in dead for w in task.stakeholders):
                    task.stakeholders = tuple(w for w in task.stakeholders if w not in dead)
                if any(w in dead for w in task.workers):
                    self._count(task, -1)
                    task.workers = tuple(w for w in task.workers if w not in dead)
                    self._count(task, +1)
                    self._refresh_ready(task)
                    self._ud_dirty = True
            if (
                task.status == RUNNING
                and task.worker_running
                and task.worker_running not in task.stakeholders
                and task.worker_running not in assistants
            ):
                logger.info(
                    "Task %r is marked as running by disconnected worker %r -> marking as FAILED",
                    task.id,
                    task.worker_running,
                )
                self._set_runner(task, None)
                self._set_status(task, FAILED)
            if not task.stakeholders and task.remove is None and task.status != RUNNING:
                task.remove = now + self._config.remove_delay
            if (
                task.status == DISABLED
                and task.scheduler_disable_time is not None
                and now - task.scheduler_disable_time > self._config.disable_persist
            ):
                self._re_enable(task, to_failed=True)
            if task.status == FAILED and self._config.retry_delay >= 0 and task.retry is not None and task.retry < now:
                self._set_status(task, PENDING)
            if task.remove and now >= task.remove:
                remove.append(task)
        for task in remove:
            self._remove_task(task)

    def _remove_task(self, task: SchedTask) -> None:
        """Forget a task; dependents keep counting it as not DONE, as luigi does for missing deps."""
        logger.info("Removing task %r", task.id)
        self._count(task, -1)
        if task.status == DONE:
            self._propagate_done(task, +1)
        if task.status == RUNNING:
            self._running.pop(task.id, None)
            self._unindex_runner(task)
            for name, amount in (task.resources_running or {}).items():
                self._used[name] -= amount
        self._status_count[task.status] -= 1
        self._disabled.discard(task.id)
        for dep_id in task.deps:
            dep = self._tasks.get(dep_id)
            if dep is not None and dep.rdeps and task.id in dep.rdeps:
                dep.rdeps.remove(task.id)
        if task.rdeps:
            self._orphan_rdeps[task.id] = task.rdeps
        del self._tasks[task.id]
        task.ready_sig = None
        task.qver += 1
        self._ud_dirty = True

    def prune(self) -> None:
        """Full sweep, as luigi's prune (called by the web UI methods and by luigi's tests)."""
        now = time.time()
        self._tick(now)
        if self._last_full_prune != now:
            self._full_prune([], now)
