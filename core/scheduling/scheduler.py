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

The class is assembled from mixins, one module each: ``records`` (task and worker records),
``state`` (status changes, dependencies, priorities), ``readiness`` (ready heaps and pending
counters), ``timers`` (retries, disables, pruning), ``registration`` (add_task/get_work RPC),
``controls`` (the other RPC calls), ``queries`` (the web UI's read-only calls) and ``persistence``
(the state file of ``b2core scheduler``, which serves this scheduler over luigi's RPC protocol).
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import Any

from b2core.scheduling.controls import Controls
from b2core.scheduling.persistence import Persistence
from b2core.scheduling.queries import Queries
from b2core.scheduling.readiness import Readiness
from b2core.scheduling.records import SchedTask, SchedWorker
from b2core.scheduling.registration import Registration
from b2core.scheduling.state import TaskState
from b2core.scheduling.timers import Timers
from luigi import configuration
from luigi import task_history as history
from luigi.metrics import MetricsCollectors
from luigi.scheduler import scheduler as SchedulerConfig

__all__ = ["LinearScheduler", "SchedTask", "SchedWorker"]


class LinearScheduler(Registration, Controls, Queries, Persistence, Timers, Readiness, TaskState):
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
        # worker id (None: nobody) -> its RUNNING tasks, so a reply lists other workers' tasks only
        self._running_by: dict[str | None, dict[str, SchedTask]] = {}
        # worker id -> ids handed to it by get_work that it has not yet confirmed as current tasks
        self._handed_out: dict[str, list[str]] = {}
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
        # task id -> (params, family, casefolded display name) for the web view's search
        self._search_texts: dict[str, tuple[Any, str, str]] = {}
