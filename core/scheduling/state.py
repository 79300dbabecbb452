"""Task records and their status changes: retry policy, dependencies and priorities, kept incremental."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from b2core.scheduling.records import NO_DEPS, SchedTask, SchedWorker
from luigi import notifications
from luigi.scheduler import (
    RetryPolicy,
)
from luigi.task_status import DISABLED, DONE, FAILED, PENDING, RUNNING, UNKNOWN

logger = logging.getLogger(__name__)


class TaskState:
    """Mixin of LinearScheduler: creating tasks and workers, changing status, dependencies, priority."""

    def _tuple_add(self, tup: tuple[str, ...], item: str) -> tuple[str, ...]:
        """Append to an ordered tuple-set; single-element tuples are shared to save memory."""
        if item in tup:
            return tup
        if not tup:
            solo = self._solo.get(item)
            if solo is None:
                solo = self._solo[item] = (item,)
            return solo
        return (*tup, item)

    def _retry_policy(self, policy_dict: dict[str, Any] | None) -> RetryPolicy:
        """Task's retry policy: its own values over the [scheduler] defaults."""
        if not policy_dict or all(v is None for v in policy_dict.values()):
            return self._default_policy
        merged = self._default_policy._asdict()
        merged.update({k: v for k, v in policy_dict.items() if v is not None})
        return RetryPolicy(**merged)

    def _new_task(self, task_id: str, status: str, priority: Any) -> SchedTask:
        """Create and register a task, wiring reverse deps recorded while it did not exist."""
        task = SchedTask(task_id, status, priority, next(self._seq), self._default_policy)
        self._tasks[task_id] = task
        self._status_count[status] += 1
        orphans = self._orphan_rdeps.pop(task_id, None)
        if orphans:
            task.rdeps = orphans
            # dependents already count this id as not DONE, and the new task is not DONE either
        if status == DISABLED:
            self._disabled.add(task_id)
            self._ud_dirty = True
        return task

    def _update_worker(
        self, worker_id: str, reference: dict[str, Any] | None = None, get_work: bool = False
    ) -> SchedWorker:
        """Look up (or create) a worker and note that it is alive."""
        worker = self._workers.get(worker_id)
        if worker is None:
            worker = self._workers[worker_id] = SchedWorker(worker_id)
        now = time.time()
        worker.last_active = now
        if reference:
            worker.reference = reference
        if get_work:
            worker.last_get_work = now
        return worker

    def _get_worker(self, worker_id: str) -> SchedWorker:
        """Look up (or create) a worker without touching its activity time."""
        worker = self._workers.get(worker_id)
        if worker is None:
            worker = self._workers[worker_id] = SchedWorker(worker_id)
        return worker

    def _transition(self, task: SchedTask, new_status: str) -> None:
        """Move a task to another status and update every incremental structure."""
        old = task.status
        self._count(task, -1)
        if old == RUNNING:
            self._running.pop(task.id, None)
            self._unindex_runner(task)
            if task.resources_running:
                for name, amount in task.resources_running.items():
                    self._used[name] -= amount
            task.resources_running = None  # what it held while running: 10^6 finished tasks keep no copy
        self._status_count[old] -= 1
        self._status_count[new_status] += 1
        task.status = new_status
        task.updated = time.time()
        if new_status == RUNNING:
            self._running[task.id] = task
            self._running_by.setdefault(task.worker_running, {})[task.id] = task
            task.resources_running = dict(task.resources)
            for name, amount in task.resources_running.items():
                self._used[name] += amount
        self._count(task, +1)
        if old == DISABLED:
            self._disabled.discard(task.id)
            self._ud_dirty = True
        if new_status == DISABLED:
            self._disabled.add(task.id)
            self._ud_dirty = True
        if self._disabled and not self._ud_dirty:
            if task.id in self._ud_members:
                self._ud_dirty = True
            elif PENDING in (old, new_status) and task.deps:
                members, disabled = self._ud_members, self._disabled
                if any(d in members or d in disabled for d in task.deps):
                    self._ud_dirty = True
        if (old == DONE) != (new_status == DONE):
            self._propagate_done(task, -1 if new_status == DONE else +1)
        self._refresh_ready(task)
        if new_status == DISABLED:
            self._metrics.handle_task_disabled(task, self._config)
        elif new_status == DONE:
            self._metrics.handle_task_done(task)
        elif new_status == FAILED:
            self._metrics.handle_task_failed(task)

    def _set_runner(self, task: SchedTask, worker_id: str | None) -> None:
        """Say which worker runs a task, keeping the per-worker index of running tasks exact."""
        if task.status == RUNNING and task.worker_running != worker_id:
            self._unindex_runner(task)
            self._running_by.setdefault(worker_id, {})[task.id] = task
        task.worker_running = worker_id

    def _unindex_runner(self, task: SchedTask) -> None:
        """Drop a task from its runner's index (and the runner, once it runs nothing)."""
        tasks = self._running_by.get(task.worker_running)
        if tasks is not None:
            tasks.pop(task.id, None)
            if not tasks:
                del self._running_by[task.worker_running]

    def _propagate_done(self, task: SchedTask, delta: int) -> None:
        """A task became DONE (delta -1) or stopped being DONE (+1): adjust its dependents."""
        if not task.rdeps:
            return
        tasks = self._tasks
        for rid in task.rdeps:
            dependent = tasks.get(rid)
            if dependent is None:
                continue
            dependent.n_blocking += delta
            if dependent.n_blocking == 0 or (delta > 0 and dependent.n_blocking == 1):
                self._refresh_ready(dependent)

    def _re_enable(self, task: SchedTask, to_failed: bool = False) -> None:
        """Lift a scheduler disable (luigi's SimpleTaskState.re_enable)."""
        task.scheduler_disable_time = None
        task.clear_failures()
        if to_failed:
            self._set_status(task, FAILED)
            task.clear_failures()

    def _set_status(self, task: SchedTask, new_status: str) -> None:
        """luigi's SimpleTaskState.set_status: retry policy, disabling, retry timer."""
        if new_status == DISABLED and task.status == RUNNING:
            return
        if task.status == DISABLED:
            if new_status == DONE:
                self._re_enable(task)
            elif task.scheduler_disable_time is not None and new_status != DISABLED:
                return
        if new_status == FAILED and task.status != DISABLED:
            task.add_failure()
            if task.has_excessive_failures():
                task.scheduler_disable_time = time.time()
                new_status = DISABLED
                self._push_timer(task.scheduler_disable_time + self._config.disable_persist, "enable", task)
                if not self._config.batch_emails:
                    notifications.send_error_email(
                        f"Luigi Scheduler: DISABLED {task.id} due to excessive failures",
                        f"{task.id} failed {task.retry_policy.retry_count} times in the last "
                        f"{task.retry_policy.disable_window} seconds, so it is being disabled for "
                        f"{self._config.disable_persist} seconds",
                    )
        elif new_status == DISABLED:
            task.scheduler_disable_time = None
        if new_status != task.status:
            self._transition(task, new_status)
        if new_status == FAILED:
            task.retry = time.time() + self._config.retry_delay
            self._push_timer(task.retry, "retry", task)

    def _update_task_history(self, task: SchedTask, status: str, host: str | None = None) -> None:
        """Forward to the task history implementation, never failing the scheduler."""
        try:
            if status in (DONE, FAILED):
                self._task_history.task_finished(task, status == DONE)
            elif status == PENDING:
                self._task_history.task_scheduled(task)
            elif status == RUNNING:
                self._task_history.task_started(task, host)
        except BaseException:
            logger.warning("Error saving Task history", exc_info=True)

    def _set_deps(self, task: SchedTask, new_deps: Iterable[str], prio: Any, stakeholder: str | None) -> bool:
        """Replace task.deps, keeping reverse deps and the blocking counter exact."""
        old = task.deps
        ordered = list(dict.fromkeys(new_deps))
        new_set = set(ordered)
        if new_set == old:
            return False
        tasks = self._tasks
        for dep_id in old:
            if dep_id in new_set:
                continue
            dep = tasks.get(dep_id)
            if dep is None:
                orphans = self._orphan_rdeps.get(dep_id)
                if orphans and task.id in orphans:
                    orphans.remove(task.id)
                task.n_blocking -= 1
                continue
            if dep.rdeps and task.id in dep.rdeps:
                dep.rdeps.remove(task.id)
            if dep.status != DONE:
                task.n_blocking -= 1
        for dep_id in ordered:
            if dep_id in old:
                continue
            dep = tasks.get(dep_id)
            if dep is None:
                dep = self._new_task(dep_id, UNKNOWN, prio)
            if dep.rdeps is None:
                dep.rdeps = [task.id]
            else:
                dep.rdeps.append(task.id)
            if dep.status != DONE:
                task.n_blocking += 1
            if stakeholder is not None:
                dep.stakeholders = self._tuple_add(dep.stakeholders, stakeholder)
        task.deps = new_set if new_set else NO_DEPS
        if self._disabled:
            self._ud_dirty = True
        self._refresh_ready(task)
        return True

    def _raise_priority(self, task: SchedTask, prio: Any, check_deps: bool) -> None:
        """luigi's _update_priority, iteratively: priorities only grow and flow to dependencies."""
        existing = task.priority if isinstance(task.priority, (int, float)) else 0
        new = max(prio, existing)
        changed = new != task.priority
        task.priority = new
        if changed:
            self._refresh_ready(task)
        if not (changed or check_deps):
            return
        stack = [task]
        tasks = self._tasks
        while stack:
            current = stack.pop()
            for dep_id in current.deps:
                dep = tasks.get(dep_id)
                if dep is not None and current.priority > dep.priority:
                    dep.priority = current.priority
                    self._refresh_ready(dep)
                    stack.append(dep)
