"""Typed HTCondor settings, registered with the core so wrong types fail at start naming the setting."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SubmitValue = str | int | float | bool


class HTCondorSettings(BaseSettings):
    """Settings the htcondor backend reads; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    htcondor_settings: dict[str, SubmitValue] = Field(
        {},
        description=(
            "Submit-description commands (request_memory, requirements, +MyAttr, ...); the global value "
            "updated by the task's own, written into the submit description of its jobs."
        ),
    )
    transfer_files: list[str] = Field(
        [],
        description=(
            "Absolute paths HTCondor copies to the worker (flattened into the job's scratch folder); "
            "needs working_dir = '.'."
        ),
    )
    htcondor_release_held: int = Field(
        0,
        ge=0,
        description=(
            "How often a held job is released with condor_release before it is removed and reported "
            "failed with its HoldReason (global)."
        ),
    )
