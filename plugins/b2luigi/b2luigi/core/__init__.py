"""b2luigi.core: the module paths b2luigi users import task helpers from."""

from b2luigi.core import dispatchable_task, parameter, settings, target, task, temporary_wrapper, utils

__all__ = ["dispatchable_task", "parameter", "settings", "target", "task", "temporary_wrapper", "utils"]
