"""Hooks of b2core-lsf: detection for batch_system = "auto" and the settings model (kept light)."""

from __future__ import annotations

import shutil
import subprocess

from b2core.hookspecs import Detection, hookimpl

from b2core_lsf.settings import LSFSettings

PRIORITY = 30


@hookimpl
def b2core_detect_backend() -> Detection:
    """LSF is usable when bsub and bjobs are on PATH and mbatchd answers bjobs."""
    missing = [name for name in ("bsub", "bjobs") if shutil.which(name) is None]
    if missing:
        return Detection("lsf", False, PRIORITY, f"{' and '.join(missing)} not found on PATH")
    try:
        answer = subprocess.run(["bjobs", "-noheader", "-o", "jobid"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Detection("lsf", False, PRIORITY, f"bjobs did not answer: {error}")
    if answer.returncode != 0:
        text = [line.strip() for line in (answer.stderr + answer.stdout).splitlines() if line.strip()]
        return Detection("lsf", False, PRIORITY, f"bjobs failed: {text[0] if text else answer.returncode}")
    return Detection("lsf", True, PRIORITY, "bjobs answers")


@hookimpl
def b2core_settings_models() -> list[type]:
    """queue and job_slots, typed."""
    return [LSFSettings]
