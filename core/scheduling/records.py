"""Scheduler-side records of tasks and workers, kept small with slots (10^6 of them fit in memory)."""

from __future__ import annotations

import collections
import time
from typing import Any

from luigi.parameter import ParameterVisibility
from luigi.scheduler import (
    WORKER_STATE_ACTIVE,
    WORKER_STATE_DISABLED,
    RetryPolicy,
)

NO_DEPS: frozenset[str] = frozenset()
SHARED_LIMIT = 10_000  # distinct mappings kept for sharing; beyond that each task keeps its own copy

_shared: dict[tuple[Any, ...], dict[str, Any]] = {}


def shared(mapping: dict[str, Any]) -> dict[str, Any]:
    """One dict per distinct small mapping, read-only by contract: 10^6 tasks with the same parameter
    visibilities or resources then hold one dict, not 10^6 copies of about 180 bytes."""
    try:
        key = tuple(mapping.items())
        found = _shared.get(key)
    except TypeError:  # an unhashable value: a copy of its own
        return dict(mapping)
    if found is None:
        found = dict(mapping)
        if len(_shared) < SHARED_LIMIT:
            _shared[key] = found
    return found


NO_MAPPING: dict[str, Any] = shared({})  # what a new record holds until registration gives its own


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
        self.deps: frozenset[str] | set[str] = NO_DEPS
        self.rdeps: list[str] | None = None
        self.n_blocking = 0
        self.priority = priority
        self.seq = seq
        self.time = now
        self.updated = now
        self.family = ""
        self.module = None
        self.params: dict[str, Any] = {}
        self.param_visibilities: dict[str, Any] = NO_MAPPING
        self.resources: dict[str, int] = NO_MAPPING
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


def resource_key(resources: dict[str, int] | None) -> tuple[Any, ...]:
    """Hashable signature of a resources dict, used to partition the ready heaps."""
    if not resources:
        return ()
    return tuple(sorted(resources.items()))
