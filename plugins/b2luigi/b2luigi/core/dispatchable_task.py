"""b2luigi.core.dispatchable_task: tasks that run in a child process."""

from b2core.execution import DispatchableTask, dispatch

__all__ = ["DispatchableTask", "dispatch"]
