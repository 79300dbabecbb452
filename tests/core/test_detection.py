"""detect_by_command, the detection seam of batch plugins, against real commands on a private PATH."""

from __future__ import annotations

from pathlib import Path

import pytest
from b2core.detection import detect_by_command


def command(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_missing_commands_failing_and_answering_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert (
        detect_by_command("mysite", 5, ("mysub", "mystat"), ("mystat",)).detail == "mysub and mystat not found on PATH"
    )
    command(tmp_path, "mysub", "exit 0")
    command(tmp_path, "mystat", 'echo "error: cannot reach the scheduler" >&2; exit 1')
    down = detect_by_command("mysite", 5, ("mysub", "mystat"), ("mystat", "-x"))
    assert not down.available and down.detail == "mystat -x failed: error: cannot reach the scheduler"
    command(tmp_path, "mystat", "echo '<queue/>'")
    up = detect_by_command("mysite", 5, ("mysub", "mystat"), ("mystat", "-x"))
    assert up.available and up.priority == 5 and up.detail == "mystat -x answers"
    wrong = detect_by_command("mysite", 5, ("mystat",), ("mystat",), lambda out: "ok" if "<jobs" in out else None)
    assert not wrong.available, "an answer that shows the system unusable is no detection"
