"""Hooks of b2core-htcondor: detection for batch_system = "auto" and the settings model (kept light)."""

from __future__ import annotations

from b2core.detection import detect_by_command
from b2core.hookspecs import Detection, hookimpl

from b2core_htcondor.settings import HTCondorSettings

PRIORITY = 20


@hookimpl
def b2core_detect_backend() -> Detection:
    """HTCondor is usable when condor_submit and condor_q are on PATH and the schedd answers condor_q."""
    return detect_by_command("htcondor", PRIORITY, ("condor_submit", "condor_q"), ("condor_q", "-totals"), _schedd)


def _schedd(answer: str) -> str:
    """The schedd condor_q names, for `b2core plugins`."""
    return next((line.strip("- ") for line in answer.splitlines() if "Schedd" in line), "") or "condor_q answers"


@hookimpl
def b2core_settings_models() -> list[type]:
    """htcondor_settings, transfer_files and htcondor_release_held, typed."""
    return [HTCondorSettings]
