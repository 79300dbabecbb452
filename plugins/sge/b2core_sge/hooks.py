"""Hooks of b2core-sge: detection for batch_system = "auto" and the settings model (kept light)."""

from __future__ import annotations

from b2core.detection import detect_by_command
from b2core.hookspecs import Detection, hookimpl
from pydantic import BaseModel

PRIORITY = 5  # below slurm (10): where both answer, Slurm is the newer installation


@hookimpl
def b2core_detect_backend() -> Detection:
    """Grid Engine is usable when qsub and qstat are on PATH and qstat answers (qmaster is up)."""
    return detect_by_command(
        "sge",
        PRIORITY,
        ("qsub", "qstat"),
        ("qstat", "-xml"),
        lambda out: "qstat answers" if "<job_info" in out else None,
    )


@hookimpl
def b2core_settings_models() -> list[type[BaseModel]]:
    """sge_settings, typed."""
    from b2core_sge.settings import SGESettings

    return [SGESettings]
