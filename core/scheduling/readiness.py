"""Which tasks may run now: per-worker ready heaps, pending counters and the upstream-disabled cache."""

from __future__ import annotations

import collections
import heapq
import logging
import time
from typing import Any

from b2core.scheduling.records import SchedTask, SchedWorker, resource_key
from luigi.task_status import FAILED, PENDING

logger = logging.getLogger(__name__)

_COUNTED = (PENDING, FAILED)


class Readiness:
    """Mixin of LinearScheduler: the ready queue luigi's get_work would otherwise rebuild on every call."""

    def _count(self, task: SchedTask, sign: int) -> None:
        """Add (+1) or remove (-1) the task's contribution to its workers' pending counters."""
        if task.status not in _COUNTED or not task.workers:
            return
        workers = self._workers
        for wid in task.workers:
            w = workers.get(wid)
            if w is not None:
                w.n_pending += sign
        if len(task.workers) == 1:
            w = workers.get(task.workers[0])
            if w is not None:
                w.n_unique += sign
        w = workers.get(task.workers[-1])
        if w is not None:
            w.n_last += sign

    def _add_runner(self, task: SchedTask, worker_id: str) -> None:
        """Let worker_id run the task (luigi's task.workers.add)."""
        if worker_id in task.workers:
            return
        self._count(task, -1)
        task.workers = self._tuple_add(task.workers, worker_id)
        self._count(task, +1)
        if task.id in self._ud_members:
            self._ud_dirty = True
        self._refresh_ready(task)

    def _refresh_ready(self, task: SchedTask) -> None:
        """(Re-)enqueue the task in its workers' ready heaps if it just became runnable."""
        if task.status != PENDING or task.n_blocking or not task.workers:
            task.ready_sig = None
            return
        key = resource_key(task.resources)
        sig = (task.priority, key, task.workers)
        if task.ready_sig == sig:
            return
        task.ready_sig = sig
        task.qver += 1
        prio = task.priority if isinstance(task.priority, (int, float)) else 0
        entry = (-prio, task.seq, task.qver, task)
        for wid in task.workers:
            worker = self._workers.get(wid)
            if worker is not None:
                heapq.heappush(worker.heaps.setdefault(key, []), entry)

    @staticmethod
    def _entry_valid(entry: tuple[Any, ...], worker_id: str) -> bool:
        """Whether a heap entry still describes a task this worker may start now."""
        task = entry[3]
        return (
            task.qver == entry[2]
            and task.status == PENDING
            and task.n_blocking == 0
            and task.ready_sig is not None
            and worker_id in task.workers
        )

    def _fits(self, needed: dict[str, int], *used: dict[str, int]) -> bool:
        """luigi's _has_resources: a resource missing from [resources] has capacity 1."""
        if not needed:
            return True
        available = self._resources
        for name, amount in needed.items():
            if amount + sum(u.get(name, 0) for u in used) > available.get(name, 1):
                return False
        return True

    def _clean_top(self, heap: list[tuple[Any, ...]], worker_id: str) -> None:
        """Drop stale entries from the top of a ready heap."""
        while heap and not self._entry_valid(heap[0], worker_id):
            heapq.heappop(heap)

    def _pick(self, worker: SchedWorker) -> SchedTask | None:
        """Best-ranked ready task of this worker that luigi's greedy resource pass would hand out."""
        heaps = worker.heaps
        frontier = []
        for key in list(heaps):
            heap = heaps[key]
            self._clean_top(heap, worker.id)
            if heap:
                frontier.append((heap[0][0], heap[0][1], key))
            else:
                del heaps[key]
        if not frontier:
            return None
        if len(frontier) == 1 and not frontier[0][2]:
            return heapq.heappop(heaps[()])[3]
        return self._pick_greedy(worker, frontier)

    def _pick_greedy(self, worker: SchedWorker, frontier: list[tuple[Any, Any, tuple[Any, ...]]]) -> SchedTask | None:
        """luigi's get_work loop restricted to ready tasks, so resource-hungry tasks are not starved."""
        # Candidates are walked in rank order; running tasks and better-ranked tasks that wait for
        # resources reserve them (one per free worker process), exactly like luigi's greedy pass.
        # Tasks of one heap share their resources, so a heap is left as soon as its next task
        # cannot change anything: the walk costs O(heaps + processes), not O(ready tasks).
        heapq.heapify(frontier)
        heaps = worker.heaps
        limit = time.time() - self._config.worker_disconnect_delay
        greedy_workers = {
            w.id: int(w.info.get("workers", 1) or 1)
            for w in self._workers.values()
            if w.last_get_work is not None and w.last_get_work > limit
        }
        greedy_res: collections.defaultdict[str, int] = collections.defaultdict(int)
        running = sorted(self._running.values(), key=self._rank_key)
        next_running = 0
        set_aside: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
        best = None
        while frontier:
            neg_prio, seq, key = heapq.heappop(frontier)
            # running tasks ranked above this candidate count first, as in luigi's sorted walk
            while next_running < len(running) and self._rank_key(running[next_running]) < (neg_prio, seq):
                task = running[next_running]
                next_running += 1
                if task.worker_running in greedy_workers:
                    greedy_workers[task.worker_running] -= 1
                    for name, amount in (task.resources_running or {}).items():
                        greedy_res[name] += amount
            heap = heaps[key]
            entry = heapq.heappop(heap)
            task = entry[3]
            if not self._fits(task.resources, greedy_res):
                set_aside.append((key, entry))  # greedy usage only grows: the rest of this heap fails too
                continue
            if self._fits(task.resources, self._used):
                best = task
                break
            set_aside.append((key, entry))
            for runner in task.workers:
                if greedy_workers.get(runner, 0) > 0:
                    greedy_workers[runner] -= 1
                    for name, amount in task.resources.items():
                        greedy_res[name] += amount
                    break
            else:
                continue  # nothing reserved: the next tasks of this heap behave the same way
            self._clean_top(heap, worker.id)
            if heap:
                heapq.heappush(frontier, (heap[0][0], heap[0][1], key))
        for key, entry in set_aside:
            heapq.heappush(heaps[key], entry)
        return best

    @staticmethod
    def _rank_key(task: SchedTask) -> tuple[Any, int]:
        """Sort key equal to luigi's rank order (priority desc, then creation order)."""
        prio = task.priority if isinstance(task.priority, (int, float)) else 0
        return (-prio, task.seq)

    def _ud_refresh(self) -> None:
        """Recompute which PENDING tasks sit downstream of a DISABLED task (luigi's UPSTREAM_DISABLED)."""
        self._ud_dirty = False
        members: set[str] = set()
        excluded: dict[str, list[int]] = {}
        tasks = self._tasks
        stack = list(self._disabled)
        while stack:
            task = tasks.get(stack.pop())
            if task is None or not task.rdeps:
                continue
            for rid in task.rdeps:
                dependent = tasks.get(rid)
                if dependent is None or rid in members or dependent.status != PENDING:
                    continue
                members.add(rid)
                stack.append(rid)
                if dependent.workers:
                    for wid in dependent.workers:
                        excluded.setdefault(wid, [0, 0, 0])[0] += 1
                    if len(dependent.workers) == 1:
                        excluded.setdefault(dependent.workers[0], [0, 0, 0])[1] += 1
                    excluded.setdefault(dependent.workers[-1], [0, 0, 0])[2] += 1
        self._ud_members = members
        self._ud_excluded = excluded
