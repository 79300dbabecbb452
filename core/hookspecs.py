"""The contract between the core and its plugins: every hook a plugin may implement.

A plugin distribution registers a module of ``@hookimpl`` functions under the entry-point group
``b2core.plugins`` and, if it is a batch system, its backend class under ``b2core.batch_systems``.
Hook modules are imported when a run starts (they must stay light); backend classes only when a
task asks for them. Implementations may take fewer arguments than a spec lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

hookspec = pluggy.HookspecMarker("b2core")
hookimpl = pluggy.HookimplMarker("b2core")


@dataclass(frozen=True)
class Detection:
    """A backend's answer to "can you run jobs here?", used by batch_system = "auto"."""

    name: str
    available: bool
    priority: int = 0
    detail: str = ""


@dataclass
class JobCommand:
    """The command a job wrapper executes, and the env_script it sources first (if still to source).

    Only the first `expandable` words (the executable settings) may name $VARIABLES; all other
    words are quoted literally.
    """

    argv: list[str]
    env_script: str = ""
    expandable: int = 0
    notes: list[str] = field(default_factory=list)


# --- discovery -------------------------------------------------------------------------------------


@hookspec
def b2core_detect_backend() -> Detection | None:
    """Say whether this plugin's batch system answers on this machine.

    Called for ``batch_system = "auto"`` and by ``b2core plugins``. Higher priority wins among
    available backends; the core's documented order is lsf 30, htcondor 20, slurm 10, others 0.
    """


@hookspec
def b2core_settings_models() -> list[type[BaseModel]] | None:
    """Return the pydantic models of this plugin's settings, so they are type-checked and documented."""


@hookspec
def b2core_run_settings() -> list[str] | None:
    """Name settings a worker run reads once for all tasks that do not set them themselves (e.g. the
    container image): a lookup per task then costs a dict access; a settings file edited meanwhile
    applies from the next run on, as for the settings that name outputs."""


# --- the job command -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def b2core_task_needs_wrapper(task: Any) -> bool | None:
    """Return True when a task must run through the job wrapper even without --batch (containers)."""


@hookspec
def b2core_wrap_command(task: Any, command: JobCommand) -> JobCommand | None:
    """Return a new command that wraps `command` (e.g. in ``apptainer exec``), or None to leave it.

    Every plugin's implementation applies in pluggy's call order, each to the previous one's result,
    so wrappers compose (``tryfirst=True`` wraps innermost, ``trylast=True`` outermost).
    """


# --- job lifecycle ---------------------------------------------------------------------------------


@hookspec
def b2core_job_submitted(task_id: str, backend: str, job_id: str, attempt: int) -> None:
    """A job was submitted (or re-attached after a restart)."""


@hookspec
def b2core_job_status_changed(task_id: str, backend: str, job_id: str, status: Any) -> None:
    """A job changed state (a JobStatus); called once per change, not per poll."""


@hookspec
def b2core_job_finished(task_id: str, backend: str, job_id: str, status: Any, will_retry: bool) -> None:
    """A job ended; `will_retry` says whether it is being submitted again."""
