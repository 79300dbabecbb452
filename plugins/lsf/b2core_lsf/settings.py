"""Typed LSF settings, registered with the core so wrong types fail at start naming the setting."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LSFSettings(BaseSettings):
    """Settings the lsf backend reads; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    queue: str = Field("s", description="LSF queue (bsub -q); the default is the short queue 's'.")
    job_slots: int | str | None = Field(
        None, description="Job slots (bsub -n), e.g. 4 or '2,4'; omitted from bsub when unset."
    )
