"""Hooks of b2core-sge: detection for batch_system = "auto" and the settings model (kept light)."""

from __future__ import annotations

import shutil
import subprocess

from b2core.hookspecs import Detection, hookimpl
from pydantic import BaseModel

PRIORITY = 5  # below slurm (10): where both answer, Slurm is the newer installation


@hookimpl
def b2core_detect_backend() -> Detection:
    """Grid Engine is usable when qsub and qstat are on PATH and qstat answers (qmaster is up)."""
    missing = [name for name in ("qsub", "qstat") if shutil.which(name) is None]
    if missing:
        return Detection("sge", False, PRIORITY, f"{' and '.join(missing)} not found on PATH")
    try:
        answer = subprocess.run(["qstat", "-xml"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Detection("sge", False, PRIORITY, f"qstat did not answer: {error}")
    if answer.returncode != 0 or "<job_info" not in answer.stdout:
        text = [line.strip() for line in (answer.stderr + answer.stdout).splitlines() if line.strip()]
        return Detection("sge", False, PRIORITY, f"qstat -xml failed: {text[0] if text else answer.returncode}")
    return Detection("sge", True, PRIORITY, "qstat answers")


@hookimpl
def b2core_settings_models() -> list[type[BaseModel]]:
    """sge_settings, typed."""
    from b2core_sge.settings import SGESettings

    return [SGESettings]
