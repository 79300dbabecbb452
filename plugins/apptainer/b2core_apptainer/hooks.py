"""The Apptainer plugin's hooks: its settings, "this task needs the wrapper", and the command wrapping.

Imported at the start of every run, so it stays light (no subprocesses, no heavy imports).
"""

from __future__ import annotations

from typing import Any

from b2core.hookspecs import JobCommand, hookimpl

from b2core_apptainer.command import apptainer_command, refuse_gbasf2, uses_apptainer
from b2core_apptainer.settings import ApptainerSettings


@hookimpl
def b2core_settings_models() -> list[type]:
    """Register the apptainer_* settings so their types are checked wherever they come from."""
    return [ApptainerSettings]


@hookimpl
def b2core_run_settings() -> list[str]:
    """The image is asked for every task of a run (does it leave the process?): read once per run."""
    return ["apptainer_image"]


@hookimpl
def b2core_task_needs_wrapper(task: Any) -> bool | None:
    """A task with an image must leave the steering process even without --batch: it runs in a container."""
    if not uses_apptainer(task):
        return None
    refuse_gbasf2(task)
    return True


@hookimpl
def b2core_wrap_command(task: Any, command: JobCommand) -> JobCommand | None:
    """Wrap the job command in `apptainer exec` for tasks with an image; leave every other task alone."""
    if not uses_apptainer(task):
        return None
    refuse_gbasf2(task)
    return apptainer_command(task, command)
