"""Typed Grid Engine settings, registered with the core so wrong keys or types fail at start naming the setting."""

from __future__ import annotations

from pydantic import ConfigDict, Field, with_config
from pydantic_settings import BaseSettings, SettingsConfigDict
from typing_extensions import TypedDict


@with_config(ConfigDict(extra="forbid"))
class SGEOptions(TypedDict, total=False):
    """The qsub options b2core-sge knows; a task's own sge_settings are merged over the global ones."""

    queue: str
    parallel_environment: str
    h_rt: str
    h_vmem: str
    resources: dict[str, str | int]
    project: str
    max_running_tasks: int


class SGESettings(BaseSettings):
    """Settings the sge backend reads; each may also come from a B2CORE_<NAME> variable (JSON)."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    sge_settings: SGEOptions = Field(
        default_factory=lambda: SGEOptions(),
        description=(
            "qsub options: 'queue' (-q), 'parallel_environment' (-pe, e.g. 'smp 4'), 'h_rt' and 'h_vmem' "
            "(-l h_rt=1:00:00,h_vmem=2G), 'resources' (more -l name=value pairs), 'project' (-P) and "
            "'max_running_tasks' (-tc: at most this many tasks of one array run at once). A task's own "
            "sge_settings attribute is merged over the global value; unknown keys are an error."
        ),
    )
