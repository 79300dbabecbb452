"""The luigi RPC calls a worker makes to register tasks and get work (add_task, get_work, ...)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from b2core.scheduling.records import SchedTask, shared
from luigi.task_status import DONE, FAILED, PENDING, RUNNING, SUSPENDED, UNKNOWN

logger = logging.getLogger(__name__)


class Registration:
    """Mixin of LinearScheduler: the worker-facing half of luigi's scheduler RPC surface."""

    def add_task_batcher(
        self, worker: str, task_family: str, batched_args: Any, max_batch_size: float = float("inf")
    ) -> None:
        """Batching is not supported: batchable tasks simply run one at a time."""

    def add_task(
        self,
        task_id: str | None = None,
        status: str = PENDING,
        runnable: bool | None = True,
        deps: Iterable[str] | None = None,
        new_deps: Iterable[str] | None = None,
        expl: Any = None,
        resources: dict[str, int] | None = None,
        priority: Any = 0,
        family: str = "",
        module: str | None = None,
        params: dict[str, Any] | None = None,
        param_visibilities: dict[str, Any] | None = None,
        accepts_messages: bool | None = False,
        assistant: bool = False,
        tracking_url: str | None = None,
        worker: str | None = None,
        batchable: bool | None = None,
        batch_id: str | None = None,
        retry_policy_dict: dict[str, Any] | None = None,
        owners: Any = None,
        **kwargs: Any,
    ) -> None:
        """Add or update a task (luigi semantics); O(len(deps)) only when deps change."""
        assert worker is not None
        worker_id = worker
        sched_worker = self._update_worker(worker_id)
        resources = shared(resources or {})
        retry_policy = self._retry_policy(retry_policy_dict)

        task = self._tasks.get(task_id)
        if task is None:
            if not sched_worker.enabled:
                return
            task = self._new_task(task_id, PENDING, priority)
            task.family = family
            task.module = module
            task.params = params or {}
            task.param_visibilities = shared(param_visibilities or {})
            task.resources = resources
        elif task.status != RUNNING and not sched_worker.enabled:
            return

        # ignore claims that a task is PENDING right after it was marked DONE
        if (
            status == PENDING
            and task.status == DONE
            and (time.time() - task.updated) < self._config.stable_done_cooldown_secs
        ):
            return

        if not task.family:
            task.family = family
        if not task.module:
            task.module = module
        if not task.param_visibilities:
            task.param_visibilities = shared(param_visibilities or {})
        if not task.params:
            task.params = params or {}
        if status == RUNNING and not task.worker_running:
            self._set_runner(task, worker_id)
            task.time_running = time.time()
        if accepts_messages is not None:
            task.accepts_messages = accepts_messages
        if tracking_url is not None or task.status != RUNNING:
            task.tracking_url = tracking_url
        if batchable is not None:
            task.batchable = batchable
        task.remove = None
        if expl is not None:
            task.expl = expl

        started_a_run = status in (DONE, FAILED, RUNNING)
        if task.status != RUNNING or (started_a_run and task.worker_running == worker_id) or new_deps:
            if status != task.status or status == PENDING:
                self._update_task_history(task, status)
            self._set_status(task, PENDING if status == SUSPENDED else status)

        stakeholder = worker_id if sched_worker.enabled and not assistant else None
        deps_changed = False
        if deps is not None:
            deps_changed = self._set_deps(task, deps, priority, stakeholder)
        if new_deps:
            added = [d for d in new_deps if d not in task.deps]
            if added:
                deps_changed = (
                    self._set_deps(task, itertools.chain(task.deps, added), priority, stakeholder) or deps_changed
                )

        if task.resources != resources:
            task.resources = resources
            self._refresh_ready(task)

        if stakeholder is not None and stakeholder not in task.stakeholders:
            task.stakeholders = self._tuple_add(task.stakeholders, stakeholder)
            tasks = self._tasks
            for dep_id in task.deps:
                dep = tasks.get(dep_id)
                if dep is None:
                    dep = self._new_task(dep_id, UNKNOWN, priority)
                dep.stakeholders = self._tuple_add(dep.stakeholders, stakeholder)

        self._raise_priority(task, priority, deps_changed)
        task.retry_policy = retry_policy

        if runnable and status != FAILED and sched_worker.enabled:
            task.runnable = bool(runnable)
            self._add_runner(task, worker_id)

    def announce_scheduling_failure(
        self, task_name: str, family: str, params: Any, expl: Any, owners: Any, **kwargs: Any
    ) -> None:
        """Only used for batched e-mails, which this scheduler does not do."""

    def add_worker(self, worker: str, info: Any, **kwargs: Any) -> None:
        """Store worker info (host, number of processes, ...)."""
        self._get_worker(worker).info.update(info)

    def disable_worker(self, worker: str) -> None:
        """Stop giving work to a worker and forget which tasks it can run."""
        w = self._get_worker(worker)
        w.disabled = True
        w.heaps.clear()
        for task in self._tasks.values():
            if worker in task.workers:
                self._count(task, -1)
                task.workers = tuple(x for x in task.workers if x != worker)
                self._count(task, +1)
                self._refresh_ready(task)
        self._ud_dirty = True

    def count_pending(self, worker: str) -> dict[str, Any]:
        """Pending/unique/last-scheduled counts of a worker, and what other workers run that it could run."""
        reply = self._pending_counts(worker)
        reply["running_tasks"] = self._run_elsewhere(worker)
        return reply

    def _pending_counts(self, worker: str) -> dict[str, Any]:
        """The counters of count_pending, O(1) (O(disabled) after a change of disabled tasks)."""
        w = self._get_worker(worker)
        n_pending, n_unique, n_last = w.n_pending, w.n_unique, w.n_last
        if self._disabled:
            if self._ud_dirty:
                self._ud_refresh()
            excluded = self._ud_excluded.get(worker)
            if excluded:
                n_pending -= excluded[0]
                n_unique -= excluded[1]
                n_last -= excluded[2]
        return {
            "n_pending_tasks": n_pending,
            "n_unique_pending": n_unique,
            "n_pending_last_scheduled": n_last,
            "worker_state": w.state,
        }

    def _run_elsewhere(self, worker: str) -> list[dict[str, Any]]:
        """Running tasks of other workers that this worker could run (what luigi's summary and keep-alive
        read); the worker's own running tasks are left out, so a steering process with 10,000 tasks in
        flight gets an empty list instead of 10,000 entries on every call."""
        running_tasks = []
        for owner, tasks in self._running_by.items():
            if owner == worker:
                continue
            other = self._workers.get(owner) if owner else None
            for task in tasks.values():
                if worker in task.workers:
                    more_info = {"task_id": task.id, "worker": str(owner)}
                    if other is not None:
                        more_info.update(other.info)
                    running_tasks.append(more_info)
        return running_tasks

    def get_work(
        self,
        host: str | None = None,
        assistant: bool = False,
        current_tasks: Collection[str] | None = None,
        worker: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Hand the best ready task to the worker: O(log N) plus the number of distinct resource sets."""
        assert worker is not None
        worker_id = worker
        now = time.time()
        self._tick(now)
        sched_worker = self._update_worker(worker_id, reference={"host": host}, get_work=True)
        if not sched_worker.enabled:
            return {
                "n_pending_tasks": 0,
                "running_tasks": [],
                "task_id": None,
                "n_unique_pending": 0,
                "worker_state": sched_worker.state,
            }
        if assistant:
            self.add_worker(worker_id, [("assistant", assistant)])

        best = self._lost_task(worker_id, current_tasks)
        if best is None and not self._paused:
            best = self._pick(sched_worker)

        reply = self._pending_counts(worker_id)
        if best is None:
            reply["running_tasks"] = self._run_elsewhere(worker_id)
            reply["task_id"] = None
            return reply

        reply["running_tasks"] = []  # luigi's worker reads it only from replies without a task
        self._metrics.handle_task_started(best)
        if best.status == RUNNING:
            # handed out again (the worker lost track of it): re-account its resources
            for name, amount in (best.resources_running or {}).items():
                self._used[name] -= amount
            best.resources_running = dict(best.resources)
            for name, amount in best.resources_running.items():
                self._used[name] += amount
        else:
            self._set_status(best, RUNNING)
        self._set_runner(best, worker_id)
        best.time_running = time.time()
        self._handed_out.setdefault(worker_id, []).append(best.id)
        self._update_task_history(best, RUNNING, host=host)
        reply["task_id"] = best.id
        reply["task_family"] = best.family
        reply["task_module"] = best.module
        reply["task_params"] = best.params
        return reply

    def _lost_task(self, worker_id: str, current_tasks: Collection[str] | None) -> SchedTask | None:
        """A task handed to this worker that it does not list as current (its reply was lost): hand it back.

        luigi compares every task the worker runs with every id it sends, O(tasks in flight) per call;
        a task the worker once listed stays known to it until it reports a result, so only the tasks
        handed out since its last call need checking. A worker that sends no list is trusted.
        """
        handed = self._handed_out.pop(worker_id, None)
        if not handed or current_tasks is None:
            return None
        known = current_tasks if isinstance(current_tasks, AbstractSet) else set(current_tasks)
        lost = [
            task
            for task in map(self._tasks.get, handed)
            if task is not None and task.status == RUNNING and task.worker_running == worker_id and task.id not in known
        ]
        if not lost:
            return None
        best = max(lost, key=lambda t: (t.priority, -t.seq))
        unconfirmed = [task.id for task in lost if task is not best]
        if unconfirmed:
            self._handed_out[worker_id] = unconfirmed
        return best

    def ping(self, **kwargs: Any) -> dict[str, Any]:
        """Keep-alive from the worker; returns queued RPC messages."""
        w = self._update_worker(kwargs["worker"])
        messages, w.rpc_messages = w.rpc_messages, []
        return {"rpc_messages": messages}
