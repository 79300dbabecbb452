"""b2luigi.core.task: the task classes."""

from b2core.task import ExternalTask, NotCompletedTask, Task, WrapperTask

__all__ = ["ExternalTask", "NotCompletedTask", "Task", "WrapperTask"]
