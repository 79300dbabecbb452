"""b2luigi.core.task: the task classes."""

from b2core.task import ExternalTask, Task, WrapperTask

__all__ = ["ExternalTask", "Task", "WrapperTask"]
