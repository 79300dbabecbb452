"""Typed Apptainer settings, registered with the core so wrong types fail at start naming the setting."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApptainerSettings(BaseSettings):
    """Settings the Apptainer wrapper reads; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    apptainer_image: str = Field(
        "",
        description=(
            "Image the task's job runs in (a .sif file, a sandbox folder or a docker://, library://, ... URI). "
            "A task opts in to Apptainer by having a non-empty image."
        ),
    )
    apptainer_mounts: list[str] = Field(
        [], description="Folders bound into the container at the same path (apptainer --bind SRC[:DST[:OPTS]])."
    )
    apptainer_mount_defaults: bool = Field(
        True,
        description="Also bind result_dir, log_dir and task_file_dir (created first); False for non-local targets.",
    )
    apptainer_additional_params: str | list[str] = Field(
        "", description="Extra options after `apptainer exec`, as on the command line (e.g. '--cleanenv')."
    )
    apptainer_cmd: str = Field(
        "", description="The container command; default: apptainer, else singularity, whichever is on PATH."
    )
