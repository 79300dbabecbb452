"""Hook implementations b2core loads at the start of a run; kept light (no backend import)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from b2core.hookspecs import Detection, hookimpl

from b2core_example_backend.settings import ExampleSettings

DEFAULT_PRIORITY = 5


def priority() -> int:
    """Third-party plugins rank below lsf/htcondor/slurm; tests raise it with EXAMPLE_BACKEND_PRIORITY."""
    return int(os.environ.get("EXAMPLE_BACKEND_PRIORITY", DEFAULT_PRIORITY))


@hookimpl
def b2core_detect_backend() -> Detection:
    """Available when `exstat` is on PATH and answers."""
    exstat = shutil.which("exstat")
    if exstat is None:
        return Detection("example", False, priority(), "exstat not found on PATH")
    try:
        subprocess.run([exstat, "--ping"], capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as error:
        return Detection("example", False, priority(), f"exstat does not answer: {error}")
    return Detection("example", True, priority(), f"exstat at {exstat}")


@hookimpl
def b2core_settings_models() -> list[Any]:
    """The example backend's settings model."""
    return [ExampleSettings]


if os.environ.get("EXAMPLE_MISSPELLED_HOOK"):
    # Only for the test that checks hook validation: a typo in a hook name must be rejected.

    @hookimpl
    def b2core_detect_backends() -> None:
        """Misspelled on purpose (an extra 's')."""
