"""Hooks of b2core-lsf: detection for batch_system = "auto" and the settings model (kept light)."""

from __future__ import annotations

from b2core.detection import detect_by_command
from b2core.hookspecs import Detection, hookimpl

from b2core_lsf.settings import LSFSettings

PRIORITY = 30


@hookimpl
def b2core_detect_backend() -> Detection:
    """LSF is usable when bsub and bjobs are on PATH and mbatchd answers bjobs."""
    return detect_by_command("lsf", PRIORITY, ("bsub", "bjobs"), ("bjobs", "-noheader", "-o", "jobid"))


@hookimpl
def b2core_settings_models() -> list[type]:
    """queue and job_slots, typed."""
    return [LSFSettings]
