"""Hooks of the Slurm plugin; imported at every run start, so it imports nothing heavy."""

from __future__ import annotations

import shutil
import subprocess

from b2core.hookspecs import Detection, hookimpl
from pydantic import BaseModel

PRIORITY = 10
VERSION_TIMEOUT = 5.0


@hookimpl
def b2core_detect_backend() -> Detection:
    """Say slurm is usable when sbatch and squeue are on PATH and squeue answers quickly."""
    missing = [command for command in ("sbatch", "squeue") if shutil.which(command) is None]
    if missing:
        return Detection("slurm", available=False, priority=PRIORITY, detail=f"{' and '.join(missing)} not on PATH")
    try:
        answer = subprocess.run(
            ["squeue", "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Detection("slurm", available=False, priority=PRIORITY, detail=f"squeue --version failed: {error}")
    if answer.returncode != 0:
        text = (answer.stderr or answer.stdout).strip()
        return Detection(
            "slurm",
            available=False,
            priority=PRIORITY,
            detail=f"squeue --version exited {answer.returncode}: {text}",
        )
    return Detection("slurm", available=True, priority=PRIORITY, detail=answer.stdout.strip() or "squeue answers")


@hookimpl
def b2core_settings_models() -> list[type[BaseModel]]:
    """Register slurm_settings so its type is checked and documented."""
    from b2core_slurm.settings import SlurmSettings

    return [SlurmSettings]
