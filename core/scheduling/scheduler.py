"""A luigi scheduler whose cost per call does not grow with the size of the task graph.

luigi's :class:`luigi.scheduler.Scheduler` sorts and walks every PENDING and RUNNING task on each
``get_work`` call (and prunes the whole graph on each call when used as local scheduler), which
makes a run of N tasks cost O(N^2). :class:`LinearScheduler` keeps the same RPC interface but
maintains the answers incrementally:

* each task counts its dependencies that are not DONE (``n_blocking``); a task whose status
  changes to or from DONE adjusts the counters of its dependents through a reverse-dependency
  list, so completing a task costs O(number of dependents);
* tasks that are PENDING with ``n_blocking == 0`` sit in a per-worker priority heap (one heap per
  distinct resource signature), ordered like luigi: higher priority first, then creation order;
  stale heap entries are dropped lazily with a version number;
* the per-worker numbers that ``count_pending`` reports are counters updated on every status
  change; timers (retry of FAILED tasks, end of a scheduler disable) live in a heap instead of
  being found by a sweep over all tasks.

It serves one local worker object (which may run several processes); several workers talking to
one instance work too but the greedy resource reservation between workers is simplified.
Task batching is not supported: ``add_task_batcher`` is accepted and ignored, so batchable
tasks run one by one (luigi's behaviour for a worker that registered no batcher).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from luigi import configuration, notifications
from luigi import task_history as history
from luigi.metrics import MetricsCollectors
from luigi.parameter import ParameterVisibility
from luigi.scheduler import (
    STATUS_TO_UPSTREAM_MAP,
    TASK_FAMILY_RE,
    UPSTREAM_DISABLED,
    UPSTREAM_SEVERITY_KEY,
    WORKER_STATE_ACTIVE,
    WORKER_STATE_DISABLED,
    RetryPolicy,
)
from luigi.scheduler import scheduler as SchedulerConfig
from luigi.task_status import DISABLED, DONE, FAILED, PENDING, RUNNING, SUSPENDED, UNKNOWN

logger = logging.getLogger(__name__)

_EMPTY: frozenset[str] = frozenset()
_COUNTED = (PENDING, FAILED)
# how often (seconds) get_work does a full O(N) sweep for task removal; everything time-critical
# (retries, re-enabling, dead workers) is handled by timers and does not wait for this
_FULL_PRUNE_INTERVAL = 60.0


class SchedTask:
    """Scheduler-side record of one task; slots keep 100k of them small."""

    __slots__ = (
        "accepts_messages",
        "batch_id",
        "batchable",
        "deps",
        "expl",
        "failures",
        "family",
        "first_failure_time",
        "id",
        "module",
        "n_blocking",
        "param_visibilities",
        "params",
        "priority",
        "progress_percentage",
        "qver",
        "rdeps",
        "ready_sig",
        "remove",
        "resources",
        "resources_running",
        "retry",
        "retry_policy",
        "runnable",
        "scheduler_disable_time",
        "scheduler_message_responses",
        "seq",
        "stakeholders",
        "status",
        "status_message",
        "time",
        "time_running",
        "tracking_url",
        "updated",
        "worker_running",
        "workers",
    )

    def __init__(self, task_id: str, status: str, priority: Any, seq: int, retry_policy: RetryPolicy) -> None:
        """Create an empty record; the scheduler fills in the rest."""
        now = time.time()
        self.id = task_id
        self.status = status
        self.deps: frozenset[str] | set[str] = _EMPTY
        self.rdeps: list[str] | None = None
        self.n_blocking = 0
        self.priority = priority
        self.seq = seq
        self.time = now
        self.updated = now
        self.family = ""
        self.module = None
        self.params: dict[str, Any] = {}
        self.param_visibilities: dict[str, Any] = {}
        self.resources: dict[str, int] = {}
        self.resources_running: dict[str, int] | None = None
        self.workers: tuple[str, ...] = ()
        self.stakeholders: tuple[str, ...] = ()
        self.runnable = False
        self.batchable = False
        self.batch_id = None
        self.retry_policy = retry_policy
        self.failures: collections.deque[float] | None = None
        self.first_failure_time: float | None = None
        self.retry: float | None = None
        self.remove: float | None = None
        self.expl = None
        self.worker_running: str | None = None
        self.time_running: float | None = None
        self.tracking_url = None
        self.status_message = None
        self.progress_percentage = None
        self.accepts_messages = False
        self.scheduler_disable_time: float | None = None
        self.scheduler_message_responses: dict[str, Any] | None = None
        self.qver = 0
        self.ready_sig: tuple[Any, ...] | None = None

    def __repr__(self) -> str:
        """Show id and status, enough for debugging."""
        return f"SchedTask({self.id!r}, {self.status})"

    @property
    def public_params(self) -> dict[str, Any]:
        """Parameters that may be shown (luigi's ParameterVisibility.PUBLIC)."""
        vis = self.param_visibilities
        return {
            k: v for k, v in self.params.items() if vis.get(k, ParameterVisibility.PUBLIC) == ParameterVisibility.PUBLIC
        }

    @property
    def pretty_id(self) -> str:
        """Family(param=value, ...) as luigi's UI shows it."""
        return "{}({})".format(self.family, ", ".join(f"{k}={v}" for k, v in sorted(self.public_params.items())))

    def is_batchable(self) -> bool:
        """Kept for metrics collectors written against luigi's Task."""
        return bool(self.batchable)

    def add_failure(self) -> None:
        """Record a failure now, for the retry policy."""
        now = time.time()
        if not self.first_failure_time:
            self.first_failure_time = now
        if self.failures is None:
            self.failures = collections.deque()
        self.failures.append(now)

    def num_failures(self) -> int:
        """Failures inside the retry policy's disable window."""
        if not self.failures:
            return 0
        oldest = time.time() - self.retry_policy.disable_window
        while self.failures and self.failures[0] < oldest:
            self.failures.popleft()
        return len(self.failures)

    def has_excessive_failures(self) -> bool:
        """True when luigi would disable the task (retry_count / disable_hard_timeout reached)."""
        if (
            self.first_failure_time is not None
            and time.time() >= self.first_failure_time + self.retry_policy.disable_hard_timeout
        ):
            return True
        return self.num_failures() >= self.retry_policy.retry_count

    def clear_failures(self) -> None:
        """Forget failures, e.g. after a re-enable."""
        if self.failures:
            self.failures.clear()
        self.first_failure_time = None


class SchedWorker:
    """Scheduler-side record of a worker, with its ready heaps and pending counters."""

    __slots__ = (
        "disabled",
        "heaps",
        "id",
        "info",
        "last_active",
        "last_get_work",
        "n_last",
        "n_pending",
        "n_unique",
        "reference",
        "rpc_messages",
        "started",
    )

    def __init__(self, worker_id: str) -> None:
        """Register a worker seen for the first time."""
        now = time.time()
        self.id = worker_id
        self.reference: dict[str, Any] | None = None
        self.last_active = now
        self.last_get_work: float | None = None
        self.started = now
        self.info: dict[str, Any] = {}
        self.disabled = False
        self.rpc_messages: list[dict[str, Any]] = []
        # resource signature -> heap of (-priority, seq, qver, task)
        self.heaps: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        self.n_pending = 0
        self.n_unique = 0
        self.n_last = 0

    @property
    def enabled(self) -> bool:
        """luigi's name for 'not disabled'."""
        return not self.disabled

    @property
    def state(self) -> str:
        """WORKER_STATE_ACTIVE or WORKER_STATE_DISABLED, as luigi reports it."""
        return WORKER_STATE_DISABLED if self.disabled else WORKER_STATE_ACTIVE

    @property
    def assistant(self) -> bool:
        """Whether the worker announced itself as assistant."""
        return bool(self.info.get("assistant", False))

    def __str__(self) -> str:
        """The worker id, like luigi's Worker."""
        return self.id


def _res_key(resources: dict[str, int] | None) -> tuple[Any, ...]:
    """Hashable signature of a resources dict, used to partition the ready heaps."""
    if not resources:
        return ()
    return tuple(sorted(resources.items()))


class LinearScheduler:
    """Drop-in for luigi.scheduler.Scheduler with O(1)/O(log N) amortised work per call."""

    def __init__(
        self,
        config: SchedulerConfig | None = None,
        resources: dict[str, int] | None = None,
        task_history_impl: Any = None,
        **kwargs: Any,
    ) -> None:
        """Read the [scheduler] and [resources] config like luigi's Scheduler does."""
        self._config = config or SchedulerConfig(**kwargs)
        self._resources: dict[str, int] = dict(resources or configuration.get_config().getintdict("resources") or {})
        self._task_history = task_history_impl or history.NopHistory()
        self._metrics = MetricsCollectors.get(self._config.metrics_collector, self._config.metrics_custom_import)
        self._default_policy = self._config._get_retry_policy()
        self._tasks: dict[str, SchedTask] = {}
        self._workers: dict[str, SchedWorker] = {}
        self._status_count: collections.Counter[str] = collections.Counter()
        self._running: dict[str, SchedTask] = {}
        self._disabled: set[str] = set()
        self._used: collections.defaultdict[str, int] = collections.defaultdict(int)
        self._timers: list[tuple[float, int, str, SchedTask]] = []
        self._seq = itertools.count()
        self._push = itertools.count()
        self._solo: dict[str, tuple[str, ...]] = {}
        self._orphan_rdeps: dict[str, list[str]] = {}
        self._paused = False
        self._last_full_prune = time.time()
        # upstream-disabled cache: ids of PENDING tasks that can never run because of a DISABLED
        # dependency, and what they contribute to each worker's pending counters
        self._ud_dirty = False
        self._ud_members: set[str] = set()
        self._ud_excluded: dict[str, list[int]] = {}

    # ------------------------------------------------------------------ persistence (no-ops)
    def load(self) -> None:
        """A local scheduler keeps no state file."""

    def dump(self) -> None:
        """A local scheduler keeps no state file."""

    # ------------------------------------------------------------------ small helpers
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

    # ------------------------------------------------------------------ pending counters
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

    # ------------------------------------------------------------------ ready queue
    def _refresh_ready(self, task: SchedTask) -> None:
        """(Re-)enqueue the task in its workers' ready heaps if it just became runnable."""
        if task.status != PENDING or task.n_blocking or not task.workers:
            task.ready_sig = None
            return
        key = _res_key(task.resources)
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

    # ------------------------------------------------------------------ status changes
    def _transition(self, task: SchedTask, new_status: str) -> None:
        """Move a task to another status and update every incremental structure."""
        old = task.status
        self._count(task, -1)
        if old == RUNNING:
            self._running.pop(task.id, None)
            if task.resources_running:
                for name, amount in task.resources_running.items():
                    self._used[name] -= amount
        self._status_count[old] -= 1
        self._status_count[new_status] += 1
        task.status = new_status
        task.updated = time.time()
        if new_status == RUNNING:
            self._running[task.id] = task
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
                heapq.heappush(
                    self._timers,
                    (
                        task.scheduler_disable_time + self._config.disable_persist,
                        next(self._push),
                        "enable",
                        task,
                    ),
                )
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
            heapq.heappush(self._timers, (task.retry, next(self._push), "retry", task))

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

    # ------------------------------------------------------------------ dependencies
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
        task.deps = new_set if new_set else _EMPTY
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

    # ------------------------------------------------------------------ timers and pruning
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
                task.worker_running = None
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

    # ------------------------------------------------------------------ upstream-disabled
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

    # ------------------------------------------------------------------ RPC interface
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
        resources = {} if resources is None else dict(resources)
        retry_policy = self._retry_policy(retry_policy_dict)

        task = self._tasks.get(task_id)
        if task is None:
            if not sched_worker.enabled:
                return
            task = self._new_task(task_id, PENDING, priority)
            task.family = family
            task.module = module
            task.params = params or {}
            task.param_visibilities = param_visibilities or {}
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
            task.param_visibilities = param_visibilities or {}
        if not task.params:
            task.params = params or {}
        if status == RUNNING and not task.worker_running:
            task.worker_running = worker_id
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

    def set_worker_processes(self, worker: str, n: int) -> None:
        """Ask the worker (via its next ping) to change its number of processes."""
        self._get_worker(worker).rpc_messages.append({"name": "set_worker_processes", "kwargs": {"n": n}})

    def send_scheduler_message(self, worker: str, task: str, content: Any) -> dict[str, Any]:
        """Queue a message for a running task (luigi's scheduler messages)."""
        if not self._config.send_messages:
            return {"message_id": None}
        message_id = str(uuid.uuid4())
        kwargs = {"task_id": task, "message_id": message_id, "content": content}
        self._get_worker(worker).rpc_messages.append({"name": "dispatch_scheduler_message", "kwargs": kwargs})
        return {"message_id": message_id}

    def add_scheduler_message_response(self, task_id: str, message_id: str, response: Any) -> None:
        """Store a task's answer to a scheduler message."""
        task = self._tasks.get(task_id)
        if task is not None:
            if task.scheduler_message_responses is None:
                task.scheduler_message_responses = {}
            task.scheduler_message_responses[message_id] = response

    def get_scheduler_message_response(self, task_id: str, message_id: str) -> dict[str, Any]:
        """Fetch (and forget) a task's answer to a scheduler message."""
        task = self._tasks.get(task_id)
        response = None
        if task is not None and task.scheduler_message_responses:
            response = task.scheduler_message_responses.pop(message_id, None)
        return {"response": response}

    def has_task_history(self) -> bool:
        """Whether task history is recorded (never for the local scheduler)."""
        return bool(self._config.record_task_history)

    def is_pause_enabled(self) -> dict[str, bool]:
        """Same answer format as luigi."""
        return {"enabled": self._config.pause_enabled}

    def is_paused(self) -> dict[str, bool]:
        """Same answer format as luigi."""
        return {"paused": self._paused}

    def pause(self) -> None:
        """Stop handing out work."""
        if self._config.pause_enabled:
            self._paused = True

    def unpause(self) -> None:
        """Resume handing out work."""
        if self._config.pause_enabled:
            self._paused = False

    def update_resources(self, **resources: int) -> None:
        """Change resource capacities."""
        self._resources.update(resources)

    def update_resource(self, resource: str, amount: int) -> bool:
        """Change one resource capacity; refuses negative or non-int amounts like luigi."""
        if not isinstance(amount, int) or amount < 0:
            return False
        self._resources[resource] = amount
        return True

    def count_pending(self, worker: str) -> dict[str, Any]:
        """Pending/unique/last-scheduled counts of a worker, from counters (O(running tasks))."""
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
        running_tasks = []
        for task in self._running.values():
            if worker in task.workers:
                other = self._workers.get(task.worker_running) if task.worker_running else None
                more_info = {"task_id": task.id, "worker": str(task.worker_running)}
                if other is not None:
                    more_info.update(other.info)
                running_tasks.append(more_info)
        return {
            "n_pending_tasks": n_pending,
            "n_unique_pending": n_unique,
            "n_pending_last_scheduled": n_last,
            "worker_state": w.state,
            "running_tasks": running_tasks,
        }

    def get_work(
        self,
        host: str | None = None,
        assistant: bool = False,
        current_tasks: list[str] | None = None,
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

        best = None
        if current_tasks is not None:
            # a task we think this worker runs but the worker does not know about: hand it back
            known = set(current_tasks)
            lost = [t for t in self._running.values() if t.worker_running == worker_id and t.id not in known]
            if lost:
                best = max(lost, key=lambda t: (t.priority, -t.seq))
        if best is None and not self._paused:
            best = self._pick(sched_worker)

        reply = self.count_pending(worker_id)
        if best is None:
            reply["task_id"] = None
            return reply

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
        best.worker_running = worker_id
        best.time_running = time.time()
        self._update_task_history(best, RUNNING, host=host)
        reply["task_id"] = best.id
        reply["task_family"] = best.family
        reply["task_module"] = best.module
        reply["task_params"] = best.params
        return reply

    def ping(self, **kwargs: Any) -> dict[str, Any]:
        """Keep-alive from the worker; returns queued RPC messages."""
        w = self._update_worker(kwargs["worker"])
        messages, w.rpc_messages = w.rpc_messages, []
        return {"rpc_messages": messages}

    def forgive_failures(self, task_id: str | None = None) -> dict[str, Any]:
        """Turn a FAILED task back into PENDING."""
        task = self._tasks.get(task_id)
        if task is None:
            return {"task_id": task_id, "status": None}
        if task.status == FAILED:
            self._update_task_history(task, PENDING)
            self._set_status(task, PENDING)
        return {"task_id": task_id, "status": task.status}

    def mark_as_done(self, task_id: str | None = None) -> dict[str, Any]:
        """Force a RUNNING/FAILED/DISABLED task to DONE."""
        task = self._tasks.get(task_id)
        if task is None:
            return {"task_id": task_id, "status": None}
        if task.status in (RUNNING, FAILED, DISABLED):
            self._update_task_history(task, DONE)
            self._set_status(task, DONE)
        return {"task_id": task_id, "status": task.status}

    def re_enable_task(self, task_id: str) -> dict[str, Any]:
        """Lift a scheduler disable by hand."""
        task = self._tasks.get(task_id)
        if task is not None and task.status == DISABLED and task.scheduler_disable_time:
            self._re_enable(task, to_failed=True)
            return self._serialize_task(task)
        return {}

    def fetch_error(self, task_id: str, **kwargs: Any) -> dict[str, Any]:
        """The explanation a failed task reported."""
        task = self._tasks.get(task_id)
        if task is None:
            return {"taskId": task_id, "error": ""}
        return {
            "taskId": task_id,
            "error": task.expl,
            "displayName": task.pretty_id,
            "taskParams": task.params,
            "taskModule": task.module,
            "taskFamily": task.family,
        }

    def set_task_status_message(self, task_id: str, status_message: Any) -> None:
        """Store the status message a running task reported."""
        task = self._tasks.get(task_id)
        if task is not None:
            task.status_message = status_message

    def get_task_status_message(self, task_id: str) -> dict[str, Any]:
        """Read back a task's status message."""
        task = self._tasks.get(task_id)
        return {"taskId": task_id, "statusMessage": task.status_message if task is not None else ""}

    def set_task_progress_percentage(self, task_id: str, progress_percentage: Any) -> None:
        """Store the progress a running task reported."""
        task = self._tasks.get(task_id)
        if task is not None:
            task.progress_percentage = progress_percentage

    def get_task_progress_percentage(self, task_id: str) -> dict[str, Any]:
        """Read back a task's progress."""
        task = self._tasks.get(task_id)
        return {
            "taskId": task_id,
            "progressPercentage": task.progress_percentage if task is not None else None,
        }

    def decrease_running_task_resources(self, task_id: str, decrease_resources: dict[str, int]) -> None:
        """Give back part of a running task's resources early."""
        task = self._tasks.get(task_id)
        if task is None or task.status != RUNNING or task.resources_running is None:
            return
        for name, amount in decrease_resources.items():
            if amount > 0 and name in task.resources_running:
                new = max(0, task.resources_running[name] - amount)
                self._used[name] -= task.resources_running[name] - new
                task.resources_running[name] = new

    def get_running_task_resources(self, task_id: str) -> dict[str, Any]:
        """Resources a running task currently holds."""
        task = self._tasks.get(task_id)
        return {"taskId": task_id, "resources": task.resources_running if task is not None else None}

    def update_metrics_task_started(self, task: Any) -> None:
        """Forward to the metrics collector."""
        self._metrics.handle_task_started(task)

    def report_task_statistics(self, task_id: str, statistics: Any) -> None:
        """Forward task statistics to the metrics collector."""
        task = self._tasks.get(task_id)
        if task is not None:
            self._metrics.handle_task_statistics(task, statistics)

    @property
    def task_history(self) -> Any:
        """The task history implementation (luigi's server reads it)."""
        return self._task_history

    # ------------------------------------------------------------------ introspection (UI-style)
    def _serialize_task(
        self, task: SchedTask, include_deps: bool = True, deps: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Same dict luigi's UI methods return for one task."""
        ret = {
            "display_name": task.pretty_id,
            "status": task.status,
            "workers": list(task.workers),
            "worker_running": task.worker_running,
            "time_running": task.time_running,
            "start_time": task.time,
            "last_updated": task.updated,
            "params": task.public_params,
            "name": task.family,
            "priority": task.priority,
            "resources": task.resources,
            "resources_running": task.resources_running,
            "tracking_url": task.tracking_url,
            "status_message": task.status_message,
            "progress_percentage": task.progress_percentage,
        }
        if task.status == DISABLED:
            ret["re_enable_able"] = task.scheduler_disable_time is not None
        if include_deps:
            ret["deps"] = list(task.deps if deps is None else deps)
        if self._config.send_messages and task.status == RUNNING:
            ret["accepts_messages"] = task.accepts_messages
        return ret

    def _traverse(
        self, root_id: str, dep_func: Any, include_done: bool = True, seen: set[str] | None = None
    ) -> dict[str, Any]:
        """Breadth-first serialisation of the graph below root_id, capped at max_graph_nodes."""
        seen = set() if seen is None else seen
        if root_id in seen:
            return {}
        seen.add(root_id)
        out: dict[str, Any] = {}
        queue = collections.deque([root_id])
        while queue:
            task_id = queue.popleft()
            task = self._tasks.get(task_id)
            if task is None or not task.family:
                match = TASK_FAMILY_RE.match(task_id)
                out[task_id] = {
                    "deps": [],
                    "status": UNKNOWN,
                    "workers": [],
                    "start_time": UNKNOWN,
                    "params": {"task_id": task_id},
                    "name": match.group(1) if match else UNKNOWN,
                    "display_name": task_id,
                    "priority": 0,
                }
            else:
                deps = list(dep_func(task))
                if not include_done:
                    deps = [d for d in deps if d not in self._tasks or self._tasks[d].status != DONE]
                out[task_id] = self._serialize_task(task, deps=deps)
                for dep in sorted(deps):
                    if dep not in seen:
                        seen.add(dep)
                        queue.append(dep)
            if task_id != root_id:
                out[task_id].pop("display_name", None)
            if len(out) >= self._config.max_graph_nodes:
                break
        return out

    def graph(self, **kwargs: Any) -> dict[str, Any]:
        """Whole task graph, serialised."""
        self.prune()
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for task_id in list(self._tasks):
            out.update(self._traverse(task_id, lambda t: t.deps, seen=seen))
        return out

    def dep_graph(self, task_id: str, include_done: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Graph below one task."""
        self.prune()
        if task_id not in self._tasks:
            return {}
        return self._traverse(task_id, lambda t: t.deps, include_done)

    def inverse_dep_graph(self, task_id: str, include_done: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Graph above one task, from the reverse-dependency lists."""
        self.prune()
        if task_id not in self._tasks:
            return {}
        return self._traverse(task_id, lambda t: t.rdeps or (), include_done)

    def _upstream_status(self, task_id: str, table: dict[str, str]) -> str:
        """luigi's upstream status of a task (worst status found through PENDING dependencies)."""
        if task_id in table:
            return table[task_id]
        stack: list[tuple[str, bool]] = [(task_id, False)]
        while stack:
            current, expanded = stack.pop()
            task = self._tasks.get(current)
            if task is None or task.status == DONE:
                table.setdefault(current, "")
                continue
            if expanded:
                table[current] = max((table.get(d, "") for d in task.deps), key=UPSTREAM_SEVERITY_KEY, default="")
                continue
            if current in table:
                continue
            if task.status == PENDING and task.deps:
                table[current] = ""
                stack.append((current, True))
                stack.extend((d, False) for d in task.deps if d not in table)
            else:
                table[current] = STATUS_TO_UPSTREAM_MAP.get(task.status, "")
        return table.get(task_id, "")

    def task_list(
        self,
        status: str = "",
        upstream_status: str = "",
        limit: bool = True,
        search: str | None = None,
        max_shown_tasks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Tasks filtered by status / upstream status / search terms, like luigi's UI query."""
        count_limit = max_shown_tasks or self._config.max_shown_tasks
        if not search:
            pre_count = self._status_count[status] if status else len(self._tasks)
            if limit and pre_count > count_limit:
                return {"num_tasks": -1 if upstream_status else pre_count}
        self.prune()
        terms = search.split() if search else []
        table: dict[str, str] = {}
        result = {}
        for task in list(self._tasks.values()):
            if status and task.status != status:
                continue
            if terms and not all(term.casefold() in task.pretty_id.casefold() for term in terms):
                continue
            if (
                task.status != PENDING
                or not upstream_status
                or upstream_status == self._upstream_status(task.id, table)
            ):
                result[task.id] = self._serialize_task(task, include_deps=False)
        if limit and len(result) > count_limit:
            return {"num_tasks": len(result)}
        return result

    def worker_list(self, include_running: bool = True, **kwargs: Any) -> list[dict[str, Any]]:
        """Workers with their running and pending task counts."""
        self.prune()
        num_pending: collections.Counter[str] = collections.Counter()
        num_uniques: collections.Counter[str] = collections.Counter()
        if include_running:
            for task in self._tasks.values():
                if task.status == PENDING and task.workers:
                    num_pending.update(task.workers)
                    if len(task.workers) == 1:
                        num_uniques[task.workers[0]] += 1
        out = []
        for w in self._workers.values():
            first = w.info.get("first_task", "")
            entry = dict(
                name=w.id,
                last_active=w.last_active,
                started=w.started,
                state=w.state,
                first_task_display_name=self._tasks[first].pretty_id if first in self._tasks else first,
                num_unread_rpc_messages=len(w.rpc_messages),
                **w.info,
            )
            if include_running:
                running = {
                    t.id: self._serialize_task(t, include_deps=False)
                    for t in self._running.values()
                    if t.worker_running == w.id
                }
                entry["num_running"] = len(running)
                entry["num_pending"] = num_pending[w.id]
                entry["num_uniques"] = num_uniques[w.id]
                entry["running"] = running
            out.append(entry)
        out.sort(key=lambda e: e["started"], reverse=True)
        return out

    def resources(self) -> dict[str, dict[str, int]]:
        """Total and used amount of every configured resource."""
        return {name: {"total": total, "used": self._used.get(name, 0)} for name, total in self._resources.items()}

    def resource_list(self) -> list[dict[str, Any]]:
        """Resources with the running tasks that hold them."""
        self.prune()
        out = []
        for name, r in self.resources().items():
            running = {
                t.id: self._serialize_task(t, include_deps=False)
                for t in self._running.values()
                if t.resources and name in t.resources
            }
            out.append(
                dict(
                    name=name,
                    num_total=r["total"],
                    num_used=r["used"],
                    num_consumer=len(running),
                    running=running,
                )
            )
        return out

    def task_search(self, task_str: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """Tasks whose id contains task_str, grouped by status."""
        self.prune()
        result: dict[str, dict[str, Any]] = collections.defaultdict(dict)
        for task in self._tasks.values():
            if task_str in task.id:
                result[task.status][task.id] = self._serialize_task(task, include_deps=False)
        return result

    # ------------------------------------------------------------------ convenience for callers/tests
    def task_status(self, task_id: str) -> str | None:
        """Status of one task, or None if unknown (not part of luigi's interface)."""
        task = self._tasks.get(task_id)
        return task.status if task is not None else None

    def is_upstream_disabled(self, task_id: str) -> bool:
        """Whether luigi would report UPSTREAM_DISABLED for this task."""
        return self._upstream_status(task_id, {}) == UPSTREAM_DISABLED
