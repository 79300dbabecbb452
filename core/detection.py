"""Detection for batch plugins' `b2core_detect_backend` hooks: the commands are on PATH and a status command
answers. Light on purpose: hook modules are imported at the start of every run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence

from b2core.hookspecs import Detection


def detect_by_command(
    name: str,
    priority: int,
    tools: Sequence[str],
    probe: Sequence[str],
    detail: Callable[[str], str | None] | None = None,
    timeout: float = 15.0,
) -> Detection:
    """Available when every tool is on PATH and `probe` exits 0; `detail(stdout)` says what answered
    (None or "" when the answer shows the batch system is not usable after all)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        return Detection(name, False, priority, f"{' and '.join(missing)} not found on PATH")
    command = " ".join(probe)
    try:
        answer = subprocess.run(list(probe), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Detection(name, False, priority, f"{command} did not answer: {error}")
    found = (detail(answer.stdout) if detail else f"{command} answers") if answer.returncode == 0 else None
    if not found:
        text = [line.strip() for line in (answer.stderr + answer.stdout).splitlines() if line.strip()]
        return Detection(name, False, priority, f"{command} failed: {text[0] if text else answer.returncode}")
    return Detection(name, True, priority, found)
