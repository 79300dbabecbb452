"""The central scheduler's state file (luigi's [scheduler] state_path): saved on shutdown, read at start."""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from typing import Any

from b2core.scheduling.records import SchedTask, SchedWorker
from luigi.task_status import DISABLED, FAILED, RUNNING

logger = logging.getLogger(__name__)

STATE_FORMAT = "b2core-linear-scheduler-1"
# worker fields that survive a restart; heaps and counters are rebuilt from the tasks
_WORKER_FIELDS = ("reference", "last_active", "last_get_work", "started", "info", "disabled", "rpc_messages")


class Persistence:
    """Mixin of LinearScheduler: luigi's load()/dump(), which luigi's server calls at start and exit."""

    def dump(self) -> None:
        """Write tasks and workers to state_path atomically; a failure is logged, as luigi does."""
        path = self._config.state_path
        workers = {w.id: {name: getattr(w, name) for name in _WORKER_FIELDS} for w in self._workers.values()}
        state = {
            "format": STATE_FORMAT,
            "tasks": list(self._tasks.values()),
            "workers": workers,
            "orphan_rdeps": self._orphan_rdeps,
            "paused": self._paused,
            "seq": max((t.seq for t in self._tasks.values()), default=-1) + 1,
        }
        try:
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=folder, prefix=".state-", delete=False) as handle:
                pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(handle.name, path)
        except OSError:
            logger.warning("Failed saving scheduler state to %s", path, exc_info=True)
            return
        logger.info("Saved state of %d tasks in %s", len(self._tasks), path)

    def load(self) -> None:
        """Read state_path if it exists and rebuild every derived structure from the task records."""
        path = self._config.state_path
        if not os.path.exists(path):
            logger.info("No prior state file exists at %s. Starting with empty state", path)
            return
        try:
            with open(path, "rb") as handle:
                state = pickle.load(handle)
        except Exception:
            logger.exception("Error when loading scheduler state from %s; starting with empty state", path)
            return
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            logger.warning("%s is not a b2core scheduler state file; starting with empty state", path)
            return
        self._restore(state)
        logger.info("Loaded state of %d tasks from %s", len(self._tasks), path)

    def _restore(self, state: dict[str, Any]) -> None:
        """Put the saved records back; counters, heaps and timers are recomputed."""
        for worker_id, fields in state["workers"].items():
            worker = self._workers[worker_id] = SchedWorker(worker_id)
            for name, value in fields.items():
                setattr(worker, name, value)
        tasks: list[SchedTask] = state["tasks"]
        self._tasks = {task.id: task for task in tasks}
        self._orphan_rdeps = state["orphan_rdeps"]
        self._paused = state["paused"]
        self._seq = iter(range(state["seq"], 1 << 62))
        for task in tasks:
            self._status_count[task.status] += 1
            task.ready_sig = None
            self._count(task, +1)
            if task.status == RUNNING:
                self._running[task.id] = task
                self._running_by.setdefault(task.worker_running, {})[task.id] = task
                for name, amount in (task.resources_running or {}).items():
                    self._used[name] += amount
            elif task.status == DISABLED:
                self._disabled.add(task.id)
                if task.scheduler_disable_time is not None:
                    due = task.scheduler_disable_time + self._config.disable_persist
                    self._push_timer(due, "enable", task)
            elif task.status == FAILED and task.retry is not None:
                self._push_timer(task.retry, "retry", task)
        self._ud_dirty = bool(self._disabled)
        for task in tasks:
            self._refresh_ready(task)
