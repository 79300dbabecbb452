"""The remaining luigi RPC calls: messages, pausing, resources, forced status changes, task metadata."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from luigi.task_status import DISABLED, DONE, FAILED, PENDING, RUNNING

logger = logging.getLogger(__name__)


class Controls:
    """Mixin of LinearScheduler: RPC calls of luigi's scheduler that the UI and tasks use besides scheduling."""

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
