"""Hooks of b2core-htcondor: detection for batch_system = "auto" and the settings model (kept light)."""

from __future__ import annotations

import shutil
import subprocess

from b2core.hookspecs import Detection, hookimpl

from b2core_htcondor.settings import HTCondorSettings

PRIORITY = 20


@hookimpl
def b2core_detect_backend() -> Detection:
    """HTCondor is usable when condor_submit and condor_q are on PATH and the schedd answers condor_q."""
    missing = [name for name in ("condor_submit", "condor_q") if shutil.which(name) is None]
    if missing:
        return Detection("htcondor", False, PRIORITY, f"{' and '.join(missing)} not found on PATH")
    try:
        answer = subprocess.run(["condor_q", "-totals"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Detection("htcondor", False, PRIORITY, f"condor_q -totals did not answer: {error}")
    if answer.returncode != 0:
        text = (answer.stderr or answer.stdout).strip().splitlines()
        return Detection("htcondor", False, PRIORITY, f"condor_q -totals failed: {text[0] if text else ''}")
    schedd = next((line.strip("- ") for line in answer.stdout.splitlines() if "Schedd" in line), "")
    return Detection("htcondor", True, PRIORITY, schedd or "condor_q answers")


@hookimpl
def b2core_settings_models() -> list[type]:
    """htcondor_settings, transfer_files and htcondor_release_held, typed."""
    return [HTCondorSettings]
